"""HAMi-style pod → DRA pod (DESIGN §7): the pure conversion, without API calls.

Owns: ``convert_pod``, which for every container and init container that asks for HAMi resources
builds one ResourceClaimTemplate (one request per device family, see ``template.py``), references
it from ``spec.resourceClaims`` (entry ``hdra-<container>``) and the container's
``resources.claims``, and removes the HAMi resources from ``limits`` and ``requests`` (a map left
empty is removed). A pod without HAMi resources comes back unchanged, so re-admitting a converted
pod changes nothing. It must never create objects (``mutate.py`` does) nor decide whether a pod is
skipped.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dra_driver.webhook.asks import container_asks
from dra_driver.webhook.errors import Denial
from dra_driver.webhook.template import CardSource, claim_spec, claim_template

CLAIM_PREFIX: Final = "hdra-"
MAX_LABEL: Final = 63
_CONTAINER_LISTS: Final = ("initContainers", "containers")


@dataclass(frozen=True)
class GeneratedClaim:
    """One container's generated template and the pod-level claim entry that points at it."""

    container: str
    claim_name: str
    template: dict[str, Any]

    @property
    def template_name(self) -> str:
        return str(self.template["metadata"]["name"])


@dataclass(frozen=True)
class PodConversion:
    """The converted pod and the templates it needs (empty when nothing was converted)."""

    pod: dict[str, Any]
    claims: tuple[GeneratedClaim, ...]


def describe_pod(pod: Mapping[str, Any], namespace: str) -> str:
    """``pod ns/name``, or ``pod ns/<generateName>*`` for a pod the API server has not named yet."""
    meta = pod.get("metadata") or {}
    name = meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "<unnamed>")
    return f"pod {namespace}/{name}"


def claim_entry_name(container: str) -> str:
    """``hdra-<container>``; shortened with a hash of the container name past 63 characters."""
    name = CLAIM_PREFIX + container
    if len(name) <= MAX_LABEL:
        return name
    digest = hashlib.sha256(container.encode()).hexdigest()[:10]
    return f"{CLAIM_PREFIX}{container[: MAX_LABEL - len(CLAIM_PREFIX) - 11].rstrip('-')}-{digest}"


def _shaped(container: dict[str, Any], key: str, kind: type, who: str, field: str) -> Any:
    """``container[key]`` if it is a ``kind`` (an empty one when absent or null); a Denial naming the
    field otherwise: the API server never sends such a pod, a hand-made AdmissionReview may."""
    value = container.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        wanted = "an object" if kind is dict else "a list"
        raise Denial(f"{who}: {field} must be {wanted}, got {type(value).__name__}")
    return value


def _strip(resources: dict[str, Any], names: list[str]) -> None:
    for section in ("limits", "requests"):
        values = resources.get(section)
        if isinstance(values, dict):
            for name in names:
                values.pop(name, None)
            if not values:
                del resources[section]


def convert_pod(pod: Mapping[str, Any], *, namespace: str, cards: CardSource | None) -> PodConversion:
    """Convert ``pod`` (the JSON object of an AdmissionReview); raises ``Denial`` for bad input."""
    converted: dict[str, Any] = copy.deepcopy(dict(pod))
    who = describe_pod(pod, namespace)
    spec = converted.get("spec")
    if not isinstance(spec, dict):
        raise Denial(f"{who}: spec is missing or not an object")
    metadata = _shaped(converted, "metadata", dict, who, "metadata")
    annotations = _shaped(metadata, "annotations", dict, who, "metadata.annotations")
    pod_claims = _shaped(spec, "resourceClaims", list, who, "spec.resourceClaims")
    existing = {entry.get("name") for entry in pod_claims if isinstance(entry, dict)}
    generated: list[GeneratedClaim] = []
    for section in _CONTAINER_LISTS:
        for index, container in enumerate(_shaped(spec, section, list, who, f"spec.{section}")):
            if not isinstance(container, dict):
                raise Denial(f"{who}: spec.{section}[{index}] is not an object")
            name = str(container.get("name") or f"{section}-{index}")
            where = f'{who} container "{name}"'
            asks, owned = container_asks(container, where, annotations, who)
            if not asks:
                continue
            claim_name = claim_entry_name(name)
            if claim_name in existing:
                raise Denial(
                    f"{where}: spec.resourceClaims already has an entry named {claim_name!r}, the name the "
                    "webhook gives the claim it generates for this container; rename that entry"
                )
            template = claim_template(name, namespace, claim_spec(asks, where, cards))
            resources = container.setdefault("resources", {})
            _strip(resources, owned)
            claims = _shaped(resources, "claims", list, where, "resources.claims")
            resources["claims"] = [*claims, {"name": claim_name}]
            spec.setdefault("resourceClaims", []).append(
                {"name": claim_name, "resourceClaimTemplateName": template["metadata"]["name"]}
            )
            generated.append(GeneratedClaim(name, claim_name, template))
    return PodConversion(converted, tuple(generated))
