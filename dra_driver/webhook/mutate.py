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
from typing import Any, Final

from dra_driver.kube import KubeClient
from dra_driver.webhook.cluster import SliceCards, create_template, namespace_labels
from dra_driver.webhook.convert import convert_pod, describe_pod
from dra_driver.webhook.errors import INTERNAL, Denial
from dra_driver.webhook.patch import json_patch
from dra_driver.webhook.review import ALLOW, AdmissionRequest, Verdict

IGNORE_LABEL: Final = "hdra.io/webhook"
IGNORE_VALUE: Final = "ignore"

log = logging.getLogger("hdra.webhook")


class Mutator:
    """Decides ``/mutate`` requests; ``kube`` reads slices and namespaces and creates templates."""

    def __init__(self, kube: KubeClient | None) -> None:
        self._kube = kube

    def _ignored(self, pod: dict[str, Any], namespace: str) -> bool:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if labels.get(IGNORE_LABEL) == IGNORE_VALUE:
            return True
        if self._kube is None or not namespace:
            return False
        return namespace_labels(self._kube, namespace).get(IGNORE_LABEL) == IGNORE_VALUE

    def mutate(self, request: AdmissionRequest) -> Verdict:
        pod = request.object
        if request.group != "" or request.kind != "Pod" or request.operation != "CREATE" or pod is None:
            return ALLOW
        # The API server always names the namespace of a namespaced object; the pod's own field is
        # the fallback for callers that leave it out.
        namespace = request.namespace or str((pod.get("metadata") or {}).get("namespace") or "")
        if self._ignored(pod, namespace):
            return ALLOW
        cards = SliceCards(self._kube) if self._kube is not None else None
        conversion = convert_pod(pod, namespace=namespace, cards=cards)
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
            created = create_template(self._kube, claim.template)
            log.info(
                "%s container %s: %s ResourceClaimTemplate %s/%s",
                who,
                claim.container,
                "created" if created else "reusing",
                namespace,
                claim.template_name,
            )
        return Verdict(allowed=True, patch=json_patch(pod, conversion.pod))
