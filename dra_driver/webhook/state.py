"""What the mutating webhook reads per admission, kept current by watches instead of API calls.

Owns: ``WatchedState`` — three informer-like watches (``kube.watch``) started with the webhook:
namespaces (their labels: the ``hdra.io/webhook: ignore`` opt-out), the generated
ResourceClaimTemplates (label ``app.kubernetes.io/managed-by: hdra-webhook``, every namespace:
which exist and when each was last handed out) and the ResourceSlices (the whole cards per
driver, for ``gpumem-percentage``). Readers get ``None`` for "not known from the watch", and the
caller then asks the API as it would without watches: before a watch's first list is done, for a
namespace created a moment ago that the watch has not delivered yet, and for a template the
watch does not hold (deleted behind the webhook's back, or never made), which the caller creates.
Nothing is guessed from a time-to-live: an entry is there exactly while the watch says the object
exists. It must never write to the API and never decide an admission.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dra_driver.kube import KubeClient
from dra_driver.kube.watch import WatchEvent, watch
from dra_driver.webhook.cluster import cards_in_slices, plain
from dra_driver.webhook.selectors import Card
from dra_driver.webhook.template import MANAGED_BY
from dra_driver.webhook.template_gc import last_used

log = logging.getLogger("hdra.webhook")

_TEMPLATE_SELECTOR = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
_KINDS = ("namespaces", "templates", "slices")


@dataclass(frozen=True)
class TemplateState:
    """A generated template as the watch last saw it: when it was last handed out (or created),
    and the claim spec inside it (``spec.spec``, API JSON) for the pod check."""

    last_used: datetime | None
    spec: Mapping[str, Any] | None = None


class WatchedState:
    """Namespaces, generated templates and slices from watches; ``start``/``stop`` own the threads."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._lock = threading.Lock()
        self._listed_changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listed: set[str] = set()
        self._namespaces: dict[str, dict[str, str]] = {}
        self._templates: dict[tuple[str, str], TemplateState] = {}
        self._slices: dict[str, dict[str, Any]] = {}
        self._cards: dict[str, list[Card]] = {}  # per driver, dropped on every slice change

    def start(self) -> WatchedState:
        sources: dict[str, Callable[[], None]] = {
            "namespaces": self._watch_namespaces,
            "templates": self._watch_templates,
            "slices": self._watch_slices,
        }
        for name, run in sources.items():
            thread = threading.Thread(target=self._supervised(name, run), name=f"webhook-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every watch finished its first list; False on timeout (the API is used meanwhile)."""
        with self._listed_changed:
            return self._listed_changed.wait_for(lambda: self._listed >= set(_KINDS), timeout)

    def ready(self, *kinds: str) -> bool:
        with self._lock:
            return all(kind in self._listed for kind in kinds)

    # --- readers ----------------------------------------------------------------------------------

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        """The labels of namespace ``name``; None when the watch does not know it (yet)."""
        with self._lock:
            if "namespaces" not in self._listed:
                return None
            return self._namespaces.get(name)

    def template(self, namespace: str, name: str) -> TemplateState | None:
        """The generated template ``namespace/name``; None when the watch does not hold it."""
        with self._lock:
            if "templates" not in self._listed:
                return None
            return self._templates.get((namespace, name))

    def cards(self, driver: str) -> Sequence[Card] | None:
        """The whole cards of ``driver`` in the watched slices; None before the first list."""
        with self._lock:
            if "slices" not in self._listed:
                return None
            cards = self._cards.get(driver)
            if cards is None:
                cards = self._cards[driver] = cards_in_slices(driver, self._slices.values())
            return cards

    # --- watches ----------------------------------------------------------------------------------

    def _supervised(self, name: str, run: Callable[[], None]) -> Callable[[], None]:
        def loop() -> None:
            failures = 0
            while not self._stop.is_set():
                try:
                    run()
                except Exception as exc:  # a watch must not die silently: log, forget, re-list
                    failures += 1
                    with self._lock:
                        self._listed.discard(name)
                    delay = self._kube.retry.reconnect_delay(failures)
                    log.warning("webhook %s watch failed, re-listing in %.2fs: %s", name, delay, exc)
                    self._stop.wait(delay)

        return loop

    def _listed_now(self, kind: str) -> Callable[[], None]:
        def done() -> None:
            with self._listed_changed:
                self._listed.add(kind)
                self._listed_changed.notify_all()

        return done

    def _watch_namespaces(self) -> None:
        for event in watch(self._kube.namespaces, stop=self._stop, on_list=self._listed_now("namespaces")):
            meta = event.object.metadata
            if meta is None or not meta.name:
                continue
            with self._lock:
                if event.type == "DELETED":
                    self._namespaces.pop(meta.name, None)
                else:
                    self._namespaces[meta.name] = {str(k): str(v) for k, v in (meta.labels or {}).items()}

    def _watch_templates(self) -> None:
        for event in watch(
            self._kube.resource_claim_templates,
            stop=self._stop,
            label_selector=_TEMPLATE_SELECTOR,
            on_list=self._listed_now("templates"),
        ):
            meta = event.object.metadata
            if meta is None or not meta.name or not meta.namespace:
                continue
            key = (meta.namespace, meta.name)
            with self._lock:
                if event.type == "DELETED":
                    self._templates.pop(key, None)
                else:
                    body = plain(self._kube, event.object)
                    self._templates[key] = TemplateState(
                        last_used(event.object), (body.get("spec") or {}).get("spec")
                    )

    def _watch_slices(self) -> None:
        for event in watch(self._kube.resource_slices, stop=self._stop, on_list=self._listed_now("slices")):
            self._slice_event(event)

    def _slice_event(self, event: WatchEvent[Any]) -> None:
        meta = event.object.metadata
        if meta is None or not meta.name:
            return
        body = None if event.type == "DELETED" else plain(self._kube, event.object)
        with self._lock:
            if body is None:
                self._slices.pop(meta.name, None)
            else:
                self._slices[meta.name] = body
            self._cards.clear()


def fresh(state: TemplateState, now: datetime, grace_s: float) -> bool:
    """Whether ``state`` was handed out recently enough that garbage collection (which waits
    ``grace_s`` after the last hand-out) cannot remove it before a pod admitted now is stored: the
    mark is renewed once half the grace has passed, so an admission needs no write before that."""
    if state.last_used is None:
        return False
    return (now - state.last_used).total_seconds() < grace_s / 2
