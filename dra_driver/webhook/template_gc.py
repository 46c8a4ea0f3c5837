"""Garbage collection of the ResourceClaimTemplates the mutating webhook generates (DESIGN §7).

A generated template cannot be owned by its pod: at admission the pod has no UID yet, and one
content-hashed template serves every pod with the same asks. So a pod that is admitted but never
stored (a later webhook or a quota refuses it, the client gives up) would leave its template for
ever. Owns the rule that removes them:

* a template labelled ``app.kubernetes.io/managed-by: hdra-webhook`` is *used* while a pod in its
  namespace names it in ``spec.resourceClaims[].resourceClaimTemplateName``;
* an unused template is deleted once ``grace_s`` have passed since it was last handed out — its
  ``hdra.io/last-used`` annotation, which ``touch`` sets whenever an admission reuses it, or its
  creation — so a pod admitted a moment ago but not stored yet keeps its template;
* the delete carries the listed resourceVersion as a precondition: a template touched by an
  admission after the list is not deleted (409), and an admission that finds its template gone
  creates it again (``cluster.create_template``).

It must never delete a template without the label, nor one a pod names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from dra_driver.kube import Conflict, KubeClient, KubeError, NotFound
from dra_driver.kube.models import ResourceClaimTemplate
from dra_driver.webhook.template import MANAGED_BY

LAST_USED: Final = "hdra.io/last-used"
DEFAULT_GRACE_S: Final = 600.0
DEFAULT_INTERVAL_S: Final = 60.0
_SELECTOR: Final = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())

log = logging.getLogger("hdra.webhook")


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def touch(kube: KubeClient, namespace: str, name: str, now: datetime) -> bool:
    """Mark template ``namespace/name`` as just handed out; False when it no longer exists."""

    def mark(template: ResourceClaimTemplate) -> ResourceClaimTemplate:
        assert template.metadata is not None  # an object read from the API always has metadata
        template.metadata.annotations = {**(template.metadata.annotations or {}), LAST_USED: stamp(now)}
        return template

    try:
        kube.resource_claim_templates.modify(namespace, name, mark)
    except NotFound:
        return False
    return True


def used_templates(pods: Iterable[Any]) -> set[tuple[str, str]]:
    """``(namespace, template name)`` of every template a pod names."""
    used: set[tuple[str, str]] = set()
    for pod in pods:
        namespace = pod.metadata.namespace if pod.metadata is not None else None
        for entry in (pod.spec.resource_claims if pod.spec is not None else None) or []:
            if namespace and entry.resource_claim_template_name:
                used.add((namespace, entry.resource_claim_template_name))
    return used


def last_used(template: ResourceClaimTemplate) -> datetime | None:
    """When ``template`` was last handed out (``hdra.io/last-used``), else created."""
    meta = template.metadata
    if meta is None:
        return None
    text = (meta.annotations or {}).get(LAST_USED)
    if text:
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            log.warning("template %s/%s: unreadable %s %r", meta.namespace, meta.name, LAST_USED, text)
    created = meta.creation_timestamp
    return created.astimezone(UTC) if created is not None else None


def collect(kube: KubeClient, *, now: datetime, grace_s: float = DEFAULT_GRACE_S) -> list[str]:
    """Delete the generated templates no pod names and nobody was handed for ``grace_s``; returns
    ``namespace/name`` of each one deleted. API failures propagate (the caller logs and retries)."""
    templates = kube.resource_claim_templates.list(label_selector=_SELECTOR).items
    if not templates:
        return []
    used = used_templates(kube.pods.list().items)
    deleted: list[str] = []
    for template in templates:
        meta = template.metadata
        if meta is None or not meta.namespace or not meta.name:
            continue
        if (meta.namespace, meta.name) in used:
            continue
        last = last_used(template)
        if last is None or now - last < timedelta(seconds=grace_s):
            continue
        try:
            gone = kube.resource_claim_templates.delete(
                meta.namespace, meta.name, resource_version=meta.resource_version
            )
        except Conflict:
            continue  # handed out again since the list: keep it
        if gone:
            log.info(
                "deleted unused ResourceClaimTemplate %s/%s (last used %s)",
                meta.namespace,
                meta.name,
                stamp(last),
            )
            deleted.append(f"{meta.namespace}/{meta.name}")
    return deleted


class TemplateCollector:
    """Runs ``collect`` every ``interval_s`` in a daemon thread until ``stop``."""

    def __init__(
        self, kube: KubeClient, *, grace_s: float = DEFAULT_GRACE_S, interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        self._kube = kube
        self._grace_s = grace_s
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TemplateCollector:
        self._thread = threading.Thread(target=self._run, name="template-gc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                collect(self._kube, now=datetime.now(UTC), grace_s=self._grace_s)
            except KubeError as exc:
                log.warning("template garbage collection failed, retrying in %gs: %s", self._interval_s, exc)
