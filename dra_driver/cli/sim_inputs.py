"""What ``hdra simulate`` and ``hdra explain`` start from: files or a cluster, turned into pods to place.

Owns: reading ``--slices`` / ``--claims`` / ``--classes`` files or a cluster (``--kubeconfig``),
and turning what they hold into the units the scheduler places, one pod at a time:

* every Pod, and every pod of a Deployment, ReplicaSet, StatefulSet or Job, with the claims the
  resourceclaim controller would give it (``dra_driver.sim.workloads``); a pod with HAMi-style
  resources is first converted the way hdra's webhook converts it at admission, seeing the cards
  of the given slices;
* every pending ResourceClaim no pod refers to: claims with the same ``hdra.io/pod`` annotation (in
  one namespace) form one pod, any other claim is a pod of its own.

Kinds the simulator does not use are named in a note, never dropped in silence. Nothing is
written anywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dra_driver.cli.common import CommandError, open_client
from dra_driver.kube import KubeError
from dra_driver.parameters.drivers import HDRA_DRIVERS
from dra_driver.sim import ClusterState, SimError
from dra_driver.sim.documents import Objects, by_kind, load_objects
from dra_driver.sim.gates import KUBE_VERSIONS, FeatureGateError, FeatureGates
from dra_driver.sim.placement import claim_key
from dra_driver.sim.workloads import PodClaims, claims_for_pod, expand_pods
from dra_driver.webhook import Denial, convert_pod
from dra_driver.webhook.cluster import cards_in_slices

POD_ANNOTATION = "hdra.io/pod"
DEFAULT_CLASSES_NOTE = (
    f"no DeviceClasses given: assumed one class per hdra driver ({', '.join(HDRA_DRIVERS)}), "
    'each selecting device.driver == "<name>"'
)


@dataclass
class Unit:
    """One pod to place: its key (``namespace/name``), its claims, and why it cannot even be tried."""

    pod: str
    claims: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


@dataclass
class Inputs:
    """Everything a simulation starts from; ``units`` are the pods to place, in order.

    ``pending_claims`` are all claims without an allocation (also those made for pods), so that
    ``explain NS/NAME`` finds a claim generated from a template.
    """

    objects: Objects
    pending_claims: list[dict[str, Any]]
    allocated_claims: list[dict[str, Any]]
    notes: list[str]
    units: list[Unit] = field(default_factory=list)


def read_files(paths: Sequence[Path] | None) -> Objects:
    objects: list[dict[str, Any]] = []
    for path in paths or ():
        try:
            objects.extend(load_objects(path))
        except SimError as exc:
            raise CommandError(str(exc)) from None
    return by_kind(objects)


def read_cluster(kubeconfig: Path) -> Objects:
    """Slices, classes, claims (as API-shaped dicts) and namespace labels from the cluster."""

    def dump(items: Sequence[Any]) -> list[dict[str, Any]]:
        return [item.model_dump(by_alias=True, exclude_none=True, mode="json") for item in items]

    client = open_client(kubeconfig)
    try:
        with client:
            found = Objects(
                slices=dump(client.resource_slices.list().items),
                classes=dump(client.device_classes.list().items),
                claims=dump(client.resource_claims.list().items),
            )
            for namespace in client.namespaces.list().items:
                meta = namespace.metadata
                if meta is not None and meta.name:
                    found.namespaces[meta.name] = dict(meta.labels or {})
    except (KubeError, OSError) as exc:
        raise CommandError(f"--kubeconfig {kubeconfig}: {exc}") from exc
    return found


def gather(args: argparse.Namespace) -> Inputs:
    """Merge files and cluster into one set of inputs; CommandError for missing pieces."""
    objects = read_cluster(args.kubeconfig) if args.kubeconfig else read_files(args.slices)
    extra = read_files(getattr(args, "classes", None))
    from_files = read_files(getattr(args, "claims", None))
    for found in (extra, from_files):
        objects.classes.extend(found.classes)
        objects.templates.extend(found.templates)
        objects.workloads.extend(found.workloads)
        objects.namespaces.update(found.namespaces)
        objects.other.extend(found.other)
    if not objects.slices:
        raise CommandError(
            "no ResourceSlices found in " + (str(args.kubeconfig) if args.kubeconfig else "--slices")
        )
    allocated = [c for c in objects.claims if _allocated(c)]
    pending = [c for c in objects.claims if not _allocated(c)]
    if from_files.claims or getattr(args, "claims", None):
        allocated += [c for c in from_files.claims if _allocated(c)]
        pending = [c for c in from_files.claims if not _allocated(c)]
    notes = [] if objects.classes else [DEFAULT_CLASSES_NOTE]
    if objects.other:
        notes.append(f"ignored (not a kind the simulator uses): {', '.join(objects.other)}")
    inputs = Inputs(objects, pending, allocated, notes)
    pods = _pods(objects, allocated + pending, inputs.notes)
    referenced = {claim_key(c) for unit in pods for c in unit.claims}
    standalone = [c for c in pending if claim_key(c) not in referenced]
    inputs.units = [*group_pods(standalone), *pods]
    known = {claim_key(c) for c in allocated + pending}
    inputs.pending_claims += [c for unit in pods for c in unit.claims if claim_key(c) not in known]
    return inputs


def _allocated(claim: dict[str, Any]) -> bool:
    return bool((claim.get("status") or {}).get("allocation"))


def _pods(objects: Objects, claims: Sequence[dict[str, Any]], notes: list[str]) -> list[Unit]:
    """The pods of the workloads, each with the claims the resourceclaim controller would give it."""
    try:
        pods = expand_pods(objects.workloads)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    templates = {_key(t): t for t in objects.templates}
    by_key = {claim_key(c): c for c in claims}
    units: list[Unit] = []
    without_claims: list[str] = []
    for written in pods:
        namespace = str(written["metadata"]["namespace"])
        try:
            conversion = convert_pod(
                written, namespace=namespace, cards=lambda driver: cards_in_slices(driver, objects.slices)
            )
        except Denial as exc:
            units.append(Unit(_key(written), [], [f"denied by hdra's webhook: {exc}"]))
            continue
        generated = {_key(claim.template): claim.template for claim in conversion.claims}
        found: PodClaims = claims_for_pod(conversion.pod, {**templates, **generated}, by_key)
        if not found.claims and not found.missing:
            without_claims.append(found.key)
            continue
        problems = [f"{what} not found in the given files" for what in found.missing]
        units.append(Unit(found.key, found.claims, problems))
    if without_claims:
        notes.append(f"pods without resource claims (nothing to place): {', '.join(without_claims)}")
    return units


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def group_pods(claims: Sequence[dict[str, Any]]) -> list[Unit]:
    """Pods in order of their first claim: ``hdra.io/pod`` groups claims of one namespace."""
    pods: dict[str, list[dict[str, Any]]] = {}
    for claim in claims:
        meta = claim.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        pod = (meta.get("annotations") or {}).get(POD_ANNOTATION) or meta.get("name")
        pods.setdefault(f"{namespace}/{pod}", []).append(claim)
    return [Unit(pod, claims) for pod, claims in pods.items()]


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kube-version`` and ``--feature-gates``: the cluster whose scheduler is simulated."""
    parser.add_argument(
        "--kube-version",
        choices=KUBE_VERSIONS,
        default=None,
        help="simulate kube-scheduler of this version with its default feature gates (default 1.36)",
    )
    parser.add_argument(
        "--feature-gates",
        default="",
        metavar="A=true,B=false",
        help="override DRA feature gates of that version, e.g. DRAConsumableCapacity=false",
    )


def gates_from(args: argparse.Namespace) -> FeatureGates:
    try:
        return FeatureGates.for_version(
            getattr(args, "kube_version", None), getattr(args, "feature_gates", "")
        )
    except FeatureGateError as exc:
        raise CommandError(str(exc)) from exc


def build_state(inputs: Inputs, seed: int | None = None, gates: FeatureGates | None = None) -> ClusterState:
    try:
        return ClusterState(
            inputs.objects.slices,
            inputs.objects.classes or None,
            namespaces=inputs.objects.namespaces,
            claims=inputs.allocated_claims,
            nodes=inputs.objects.nodes,
            seed=seed,
            gates=gates or FeatureGates.for_version(),
        )
    except SimError as exc:
        raise CommandError(str(exc)) from exc
