"""The mutating webhook: converts HAMi-style pods on CREATE and answers with a JSON patch.

Owns: ``Mutator.mutate``: skip what is not a Pod CREATE, pods labelled ``hdra.io/webhook: ignore``
and pods in namespaces with that label (read through the API; without a client only the pod's
own label counts); convert (``convert.py``); create the generated ResourceClaimTemplates in the
pod's namespace (an existing one of the same content-hashed name is fine; nothing is created on a
dry run, the webhook's side effects are ``NoneOnDryRun``); answer with ``json_patch(original,
converted)``. A pod that needs templates while the webhook has no API client is denied, since
the pod could never start. It must never change the pod in any other way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from dra_driver.kube import KubeClient
from dra_driver.webhook.cluster import SliceCards, create_template, namespace_labels
from dra_driver.webhook.convert import convert_pod, describe_pod
from dra_driver.webhook.errors import INTERNAL, Denial
from dra_driver.webhook.patch import json_patch
from dra_driver.webhook.review import ALLOW, AdmissionRequest, Verdict
from dra_driver.webhook.selectors import Card
from dra_driver.webhook.state import WatchedState, fresh
from dra_driver.webhook.template_gc import DEFAULT_GRACE_S, touch

IGNORE_LABEL: Final = "hdra.io/webhook"
IGNORE_VALUE: Final = "ignore"

log = logging.getLogger("hdra.webhook")


class Mutator:
    """Decides ``/mutate`` requests; ``kube`` reads slices and namespaces and creates templates.

    With ``state`` (the webhook's watches, ``state.py``) namespace labels, cards and the templates
    that exist come from the watches; what they do not know is read from (or created in) the API.
    A template the watch holds is re-marked as handed out only once half of ``template_grace_s``
    (the collector's grace) has passed since its last mark, so a typical admission makes no API
    call at all.
    """

    def __init__(
        self,
        kube: KubeClient | None,
        state: WatchedState | None = None,
        template_grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        self._kube = kube
        self._state = state
        self._grace_s = template_grace_s

    def _ignored(self, pod: dict[str, Any], namespace: str) -> bool:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if labels.get(IGNORE_LABEL) == IGNORE_VALUE:
            return True
        if self._kube is None or not namespace:
            return False
        watched = self._state.namespace_labels(namespace) if self._state is not None else None
        if watched is None:
            watched = namespace_labels(self._kube, namespace)
        return watched.get(IGNORE_LABEL) == IGNORE_VALUE

    def _hand_out(self, kube: KubeClient, template: dict[str, Any]) -> bool:
        """Make sure ``template`` exists and is marked as handed out; True if it was created."""
        namespace, name = template["metadata"]["namespace"], template["metadata"]["name"]
        known = self._state.template(namespace, name) if self._state is not None else None
        if known is None:
            return create_template(kube, template)
        now = datetime.now(UTC)
        if fresh(known, now, self._grace_s):
            return False
        if touch(kube, namespace, name, now):
            return False
        return create_template(kube, template)  # deleted since the watch last saw it

    def mutate(self, request: AdmissionRequest) -> Verdict:
        pod = request.object
        if request.group != "" or request.kind != "Pod" or request.operation != "CREATE" or pod is None:
            return ALLOW
        # The API server always names the namespace of a namespaced object; the pod's own field is
        # the fallback for callers that leave it out.
        namespace = request.namespace or str((pod.get("metadata") or {}).get("namespace") or "")
        if self._ignored(pod, namespace):
            return ALLOW
        conversion = convert_pod(pod, namespace=namespace, cards=self._cards())
        if not conversion.claims:
            return ALLOW
        who = describe_pod(pod, namespace)
        if not namespace:
            raise Denial(f"{who}: the AdmissionReview names no namespace to create ResourceClaimTemplates in")
        if self._kube is None:
            raise Denial(
                f"{who} asks for HAMi resources, but this webhook has no API client to create the "
                "ResourceClaimTemplates they convert to",
                INTERNAL,
            )
        for claim in conversion.claims:
            if request.dry_run:
                continue
            created = self._hand_out(self._kube, claim.template)
            log.info(
                "%s container %s: %s ResourceClaimTemplate %s/%s",
                who,
                claim.container,
                "created" if created else "reusing",
                namespace,
                claim.template_name,
            )
        return Verdict(allowed=True, patch=json_patch(pod, conversion.pod))

    def _cards(self) -> _Cards | None:
        if self._kube is None:
            return None
        return _Cards(self._state, SliceCards(self._kube))


class _Cards:
    """The cards of a driver: from the slice watch, else read once per admission."""

    def __init__(self, state: WatchedState | None, read: SliceCards) -> None:
        self._state = state
        self._read = read

    def __call__(self, driver: str) -> Sequence[Card]:
        watched = self._state.cards(driver) if self._state is not None else None
        return watched if watched is not None else self._read(driver)
