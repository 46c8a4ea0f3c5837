"""Card and node use of the whole cluster, kept by one watch (DESIGN §8): the controller's view.

Owns: ``ClusterUsage`` and ``hdra_drivers`` (which drivers count when none are named: every
``*.hdra.io`` one, also for the controller's metrics). Two watches, on ResourceClaims (all
namespaces) and ResourceSlices, keep the allocation results and slices of hdra's drivers
(``drivers``, default every ``*.hdra.io`` driver); a loop recomputes, at most once per
``debounce_seconds``, the use of every card and node with ``dra_driver.slices.usage``. It answers
the extender's node scores (``__call__``: node usage; the extender's only source), the node
plugins' card use (``card_scores(node, driver)``, served as ``GET /card-usage``) and the objects
the controller's metrics are computed from (``objects``), so that no node plugin has to watch
every claim of the cluster, and neither an extender request nor a metrics scrape lists the cluster.

Contracts: ``start`` lists and computes once before watching, so the first answers already count
(if that list fails, answers stay empty, i.e. no preference, until the watch catches up); a failed
computation keeps the last answer and is retried; ``version`` grows with each computation that
changed something; ``objects`` answers only while both kinds are listed and watched (None before
the first list and from a failed watch until its re-list). It must never write to the API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable
from typing import Any

from dra_driver.kube import KubeClient, KubeError, watch
from dra_driver.slices.usage import CardUsage, JsonDict, NodeUsage, card_usage, node_usage

log = logging.getLogger("hdra.controller")

HDRA_DRIVER_SUFFIX = ".hdra.io"


def hdra_drivers(slices: Iterable[JsonDict]) -> set[str]:
    """Every ``*.hdra.io`` driver that publishes one of ``slices``."""
    named = {str((s.get("spec") or {}).get("driver", "")) for s in slices}
    return {name for name in named if name.endswith(HDRA_DRIVER_SUFFIX)}


def _dump(obj: Any) -> JsonDict:
    dumped: JsonDict = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def _key(obj: Any) -> tuple[str, str]:
    meta = obj.metadata
    return (meta.namespace or "", meta.name or "") if meta is not None else ("", "")


class ClusterUsage:
    """Use of every hdra card and node, from one watch on claims and one on slices."""

    def __init__(
        self,
        client: KubeClient,
        *,
        drivers: Collection[str] | None = None,
        debounce_seconds: float = 0.2,
    ) -> None:
        self._client = client
        self._drivers = frozenset(drivers) if drivers is not None else None
        self._debounce = debounce_seconds
        self._lock = threading.Lock()
        self._claims: dict[tuple[str, str], JsonDict] = {}
        self._slices: dict[tuple[str, str], JsonDict] = {}
        self._cards: dict[str, CardUsage] = {}
        self._nodes: dict[str, NodeUsage] = {}
        self._listed: set[str] = set()  # kinds whose store holds a complete list plus its watch
        self.version = 0
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """List and compute once (the first answers already count), then watch."""
        try:
            claims = self._client.resource_claims.list(None).items
            slices = self._client.resource_slices.list().items
            with self._lock:
                self._claims.update({_key(c): _dump(c) for c in claims})
                self._slices.update({_key(s): _dump(s) for s in slices})
                self._listed.update(("claims", "slices"))
            self._compute()
        except (KubeError, ValueError) as exc:
            log.warning("first usage computation failed, the watch will retry: %s", exc)
        self._threads = [
            threading.Thread(target=self._watch, args=("claims",), name="hdra-usage-claims", daemon=True),
            threading.Thread(target=self._watch, args=("slices",), name="hdra-usage-slices", daemon=True),
            threading.Thread(target=self._loop, name="hdra-usage", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, grace_seconds: float = 2.0) -> None:
        self._stop.set()
        self._dirty.set()
        for thread in self._threads:
            thread.join(timeout=grace_seconds)

    # -- answers --------------------------------------------------------------------------------

    def __call__(self) -> dict[str, NodeUsage]:
        """Node usage by node name (the extender's input)."""
        with self._lock:
            return dict(self._nodes)

    def card_scores(self, node: str, driver: str) -> dict[str, float]:
        """The use score of each card (by uuid) that ``driver`` publishes for ``node``."""
        with self._lock:
            return {
                uuid: usage.score
                for uuid, usage in self._cards.items()
                if usage.card.node == node and usage.card.driver == driver
            }

    def objects(self) -> tuple[list[JsonDict], list[JsonDict]] | None:
        """(slices, claims) as the watches hold them; None while either kind is not listed."""
        with self._lock:
            if self._listed != {"claims", "slices"}:
                return None
            return list(self._slices.values()), list(self._claims.values())

    # -- watching -------------------------------------------------------------------------------

    def _watch(self, kind: str) -> None:
        store = self._claims if kind == "claims" else self._slices
        while not self._stop.is_set():
            try:

                def listed(kind: str = kind) -> None:
                    with self._lock:
                        self._listed.add(kind)

                events: Iterable[Any] = (
                    watch(self._client.resource_claims, stop=self._stop, on_list=listed)
                    if kind == "claims"
                    else watch(self._client.resource_slices, stop=self._stop, on_list=listed)
                )
                for event in events:
                    key = _key(event.object)
                    with self._lock:
                        if event.type == "DELETED":
                            store.pop(key, None)
                        else:
                            store[key] = _dump(event.object)
                    self._dirty.set()
            except KubeError as exc:
                with self._lock:
                    self._listed.discard(kind)  # stale until the restarted watch has listed again
                log.warning("usage watch of %s failed, restarting: %s", kind, exc)
                self._stop.wait(1.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._stop.wait(self._debounce)  # let a burst of events settle into one computation
            self._dirty.clear()
            try:
                self._compute()
            except ValueError as exc:
                log.warning("usage computation failed, will retry: %s", exc)
                self._stop.wait(1.0)
                self._dirty.set()

    def _compute(self) -> None:
        with self._lock:
            slices = list(self._slices.values())
            claims = list(self._claims.values())
        drivers = self._drivers if self._drivers is not None else hdra_drivers(slices)
        cards = card_usage(slices, claims, drivers=drivers)
        nodes = node_usage(cards)
        with self._lock:
            changed = cards != self._cards or nodes != self._nodes
            self._cards, self._nodes = cards, nodes
            if changed:
                self.version += 1
