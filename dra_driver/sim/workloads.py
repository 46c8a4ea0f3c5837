"""Pods, and the ResourceClaims they get, from the workload objects of files (the simulator's input).

Owns: ``expand_pods`` (a Pod as written; a Deployment, ReplicaSet or StatefulSet as ``replicas``
pods named ``<name>-<i>``; a Job as ``parallelism`` pods) and ``claims_for_pod``, which does for
one pod what the kube-controller-manager's resourceclaim controller does
(k8s.io/kubernetes pkg/controller/resourceclaim/controller.go, ``handleClaim``): for each
``spec.resourceClaims`` entry naming a ResourceClaimTemplate it makes a ResourceClaim from the
template's ``spec.metadata`` and ``spec.spec``, with ``generateName`` ``<pod>-<entry>-`` (both parts
cut in proportion when longer than 57 characters), the annotation
``resource.kubernetes.io/pod-claim-name: <entry>`` and the pod as its controlling owner; an entry
naming a ResourceClaim uses that claim. The 5-character suffix the API server would append to
``generateName`` is derived from namespace, pod and entry, so a simulation is reproducible.
It must never talk to an API server.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Workload kinds whose pod template becomes pods, and the field that says how many.
POD_OWNERS: dict[str, str] = {
    "Deployment": "replicas",
    "ReplicaSet": "replicas",
    "StatefulSet": "replicas",
    "Job": "parallelism",
}
POD_CLAIM_ANNOTATION = "resource.kubernetes.io/pod-claim-name"
_MAX_BASE = 57  # upstream: room for a hyphen and 5 random characters in a 63-character name
# The API server's generateName alphabet (k8s.io/apimachinery pkg/util/rand: no vowels, no 0/1/3).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class PodClaims:
    """One pod's claims in ``spec.resourceClaims`` order, and what it refers to that does not exist."""

    pod: dict[str, Any]
    claims: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def expand_pods(workloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every pod the objects stand for, in order; ValueError naming an object without a pod spec."""
    pods: list[dict[str, Any]] = []
    for obj in workloads:
        kind = str(obj.get("kind"))
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "default")
        if kind == "Pod":
            pod = copy.deepcopy(dict(obj))
            pod.setdefault("metadata", {})["namespace"] = namespace
            pods.append(_with_uid(pod))
            continue
        spec = obj.get("spec") or {}
        template = spec.get("template") if isinstance(spec, Mapping) else None
        if not isinstance(template, Mapping) or not isinstance(template.get("spec"), Mapping):
            raise ValueError(f"{kind} {namespace}/{name} has no spec.template.spec")
        count = spec.get(POD_OWNERS[kind], 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{kind} {namespace}/{name}: spec.{POD_OWNERS[kind]} {count!r} is not a count")
        for index in range(count):
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-{index}", "namespace": namespace, "labels": labels},
                "spec": copy.deepcopy(dict(template["spec"])),
            }
            pods.append(_with_uid(pod))
    return pods


def claims_for_pod(
    pod: Mapping[str, Any],
    templates: Mapping[str, Mapping[str, Any]],
    claims: Mapping[str, Mapping[str, Any]],
) -> PodClaims:
    """The claims of ``pod``; ``templates`` and ``claims`` are keyed ``namespace/name``."""
    result = PodClaims(dict(pod))
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    for entry in (pod.get("spec") or {}).get("resourceClaims") or []:
        entry_name = str(entry.get("name") or "")
        if entry.get("resourceClaimName"):
            key = f"{namespace}/{entry['resourceClaimName']}"
            if key in claims:
                result.claims.append(dict(claims[key]))
            else:
                result.missing.append(f"ResourceClaim {key}")
        elif entry.get("resourceClaimTemplateName"):
            key = f"{namespace}/{entry['resourceClaimTemplateName']}"
            if key in templates:
                result.claims.append(claim_from_template(pod, entry_name, templates[key]))
            else:
                result.missing.append(f"ResourceClaimTemplate {key}")
    return result


def claim_from_template(
    pod: Mapping[str, Any], entry_name: str, template: Mapping[str, Any]
) -> dict[str, Any]:
    """The ResourceClaim the resourceclaim controller creates for pod entry ``entry_name``."""
    meta = pod.get("metadata") or {}
    pod_name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "default")
    inner = (template.get("spec") or {}).get("metadata") or {}
    annotations = {**(inner.get("annotations") or {}), POD_CLAIM_ANNOTATION: entry_name}
    generate_name = generated_name_base(pod_name, entry_name)
    digest = hashlib.sha256(f"{namespace}/{pod_name}/{entry_name}".encode()).digest()
    suffix = "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:5])
    name = generate_name + suffix
    claim_meta: dict[str, Any] = {
        "name": name,
        "generateName": generate_name,
        "namespace": namespace,
        "uid": f"sim-{hashlib.sha256(f'{namespace}/{name}'.encode()).hexdigest()[:24]}",
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod_name,
                "uid": str(meta.get("uid") or ""),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if inner.get("labels"):
        claim_meta["labels"] = dict(inner["labels"])
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": claim_meta,
        "spec": copy.deepcopy(dict((template.get("spec") or {}).get("spec") or {})),
    }


def generated_name_base(pod_name: str, entry_name: str) -> str:
    """Upstream's ``generateName``: ``<pod>-<entry>-``, both parts cut in proportion past 57 characters."""
    base = f"{pod_name}-{entry_name}-"
    if len(base) <= _MAX_BASE:
        return base
    # As upstream: the cut keeps a share of each part and (unlike the short form) no trailing hyphen.
    return (
        pod_name[: len(pod_name) * _MAX_BASE // len(base)]
        + "-"
        + entry_name[: len(entry_name) * _MAX_BASE // len(base)]
    )


def _with_uid(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod.setdefault("metadata", {})
    if not meta.get("uid"):
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        meta["uid"] = f"sim-{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    return pod
