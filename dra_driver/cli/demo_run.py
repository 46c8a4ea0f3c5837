"""The demo's scheduler and kubelet loop: place each pod's claims, write them, prepare them.

Owns: creating the DeviceClass, the workloads' ResourceClaims and Pods through the API; asking
hdra's allocator (the kube-scheduler's rules) for a node where all of a pod's claims fit; writing
``status.allocation`` and ``reservedFor`` as the scheduler does; calling NodePrepareResources on
that node's fake kubelet; and collecting, per pod, what each container gets. It must never bypass
the API or the node plugin: every number shown comes back from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dra_driver.cli.demo_nodes import DemoNode
from dra_driver.cli.demo_workloads import Workload
from dra_driver.kube import AlreadyExists, Invalid, KubeClient
from dra_driver.kube.models import DeviceClass, ObjectReference, Pod, ResourceClaim
from dra_driver.kube.quantity import MIB, parse_quantity
from dra_driver.prepare import ClaimRef
from dra_driver.rules import CORES, MEMORY
from dra_driver.sim import AllocationError, CardUse, ClusterState, Pending, Placement, Policy, reserve
from dra_driver.sim.gates import FeatureGates

NAMESPACE = "default"


@dataclass
class DeviceView:
    pool: str
    device: str
    share_id: str
    memory_mib: int
    cores_percent: int


@dataclass
class ClaimView:
    name: str
    driver: str
    devices: list[DeviceView] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class PodView:
    name: str
    description: str
    node: str = ""
    status: str = "Pending"
    reason: str = ""
    claims: list[ClaimView] = field(default_factory=list)
    ties: list[str] = field(default_factory=list)
    """Nodes of equal score the real scheduler could have taken instead of ``node`` (DESIGN §8)."""


@dataclass
class DemoRun:
    nodes: list[DemoNode]
    pods: list[PodView]
    cards: list[CardUse]
    seconds: float = 0.0


def run_workloads(
    client: KubeClient,
    nodes: list[DemoNode],
    *,
    workloads: list[Workload],
    policy: Policy,
    gates: FeatureGates | None = None,
) -> DemoRun:
    for driver in sorted({node.driver for node in nodes}):
        _create_device_class(client, driver)
    slices = [
        s.model_dump(by_alias=True, exclude_none=True, mode="json")
        for s in client.resource_slices.list().items
    ]
    classes = [
        c.model_dump(by_alias=True, exclude_none=True, mode="json")
        for c in client.device_classes.list().items
    ]
    state = ClusterState(slices=slices, classes=classes, gates=gates or FeatureGates.for_version())
    by_name = {node.name: node for node in nodes}
    pods = [_run_one(client, state, by_name, workload, policy=policy) for workload in workloads]
    return DemoRun(nodes=nodes, pods=pods, cards=state.card_uses())


def _run_one(
    client: KubeClient,
    state: ClusterState,
    nodes: dict[str, DemoNode],
    workload: Workload,
    *,
    policy: Policy,
) -> PodView:
    view = PodView(name=workload.name, description=workload.description)
    try:
        claims = [_create_claim(client, name, spec) for name, spec in workload.claims.items()]
    except Invalid as exc:
        view.status, view.reason = "Rejected", str(exc)
        return view
    pod = _create_pod(client, workload)
    try:
        outcome = state.place_pod(claims, policy=policy, pod=pod, ties=True)
    except AllocationError as exc:
        outcome = Pending(errors=[str(exc)])
    if isinstance(outcome, Pending):
        view.reason = _pending_reason(outcome, nodes, workload)
        client.record_event(
            _pod_reference(pod),
            reason="FailedScheduling",
            message=view.reason,
            type="Warning",
            component="hdra-demo",
        )
        return view
    state.commit(outcome)
    node = nodes[outcome.node]
    refs = [_write_allocation(client, allocated, pod) for allocated in outcome.claims()]
    answers = node.prepare(refs)
    errors = [f"{ref.name}: {answers[ref.uid].error}" for ref in refs if answers[ref.uid].error]
    view.node = outcome.node
    view.ties = [tie.node for tie in outcome.ties]
    if errors:
        view.status, view.reason = "PrepareFailed", "; ".join(errors)
        return view
    view.status = "Running"
    view.claims = [_claim_view(node, outcome, ref) for ref in refs]
    return view


def _create_device_class(client: KubeClient, driver: str) -> None:
    body = DeviceClass.model_validate(
        {
            "metadata": {"name": driver},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
        }
    )
    try:
        client.device_classes.create(body)
    except AlreadyExists:
        return


def _create_claim(client: KubeClient, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = ResourceClaim.model_validate({"metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec})
    created = client.resource_claims.create(NAMESPACE, body)
    return created.model_dump(by_alias=True, exclude_none=True, mode="json")


def _create_pod(client: KubeClient, workload: Workload) -> dict[str, Any]:
    claim_names = list(workload.claims)
    body = Pod.model_validate(
        {
            "metadata": {"name": workload.name, "namespace": NAMESPACE, "labels": {"app": workload.name}},
            "spec": {
                "resourceClaims": [{"name": n, "resourceClaimName": n} for n in claim_names],
                "containers": [
                    {
                        "name": "main",
                        "image": f"example.com/{workload.name}:latest",
                        "resources": {"claims": [{"name": n} for n in claim_names]},
                    }
                ],
            },
        }
    )
    return client.pods.create(NAMESPACE, body).model_dump(by_alias=True, exclude_none=True, mode="json")


def _write_allocation(client: KubeClient, allocated: dict[str, Any], pod: dict[str, Any]) -> ClaimRef:
    reserved = reserve(allocated, pod)
    stored = client.resource_claims.update_status(NAMESPACE, ResourceClaim.model_validate(reserved))
    assert (
        stored.metadata is not None and stored.metadata.uid is not None and stored.metadata.name is not None
    )
    return ClaimRef(stored.metadata.uid, NAMESPACE, stored.metadata.name)


def _claim_view(node: DemoNode, placement: Placement, ref: ClaimRef) -> ClaimView:
    allocation = placement.allocation(f"{ref.namespace}/{ref.name}")
    driver = node.driver
    view = ClaimView(name=ref.name, driver=driver)
    capacities = _published_capacities(node)
    for result in allocation.get("devices", {}).get("results", []):
        if result.get("driver") != driver:
            continue
        consumed = result.get("consumedCapacity") or capacities.get(result["device"], {})
        view.devices.append(
            DeviceView(
                pool=result["pool"],
                device=result["device"],
                share_id=result.get("shareID", ""),
                memory_mib=int(parse_quantity(consumed.get(MEMORY, "0")) // MIB),
                cores_percent=int(parse_quantity(consumed.get(CORES, "0"))),
            )
        )
    view.env = _container_env(node, ref.uid)
    return view


def _published_capacities(node: DemoNode) -> dict[str, dict[str, str]]:
    capacities: dict[str, dict[str, str]] = {}
    for slice_ in node.publisher.published_slices:
        for device in (slice_.spec.devices if slice_.spec else None) or []:
            capacities[device.name] = {name: cap.value for name, cap in (device.capacity or {}).items()}
    return capacities


def _container_env(node: DemoNode, claim_uid: str) -> dict[str, str]:
    """The env a container gets from the claim's CDI spec: spec-wide edits plus each device's."""
    (path,) = node.cdi_dir.glob(f"*_{claim_uid}.json")
    spec = json.loads(path.read_text())
    entries = list(spec.get("containerEdits", {}).get("env", []))
    for device in spec.get("devices", []):
        entries.extend(device.get("containerEdits", {}).get("env", []))
    return dict(sorted(entry.split("=", 1) for entry in entries))


def _pending_reason(pending: Pending, nodes: dict[str, DemoNode], workload: Workload) -> str:
    """Why the pod is pending, one line per node that publishes a driver the pod asks for (those are
    the nodes it could run on); the other nodes are named together in a last line."""
    drivers = set(workload.drivers())
    relevant = [name for name in pending.reasons if nodes[name].driver in drivers]
    lines = list(pending.errors)
    lines += [f"node {name}: {reason}" for name in relevant for reason in pending.reasons[name]]
    others = sorted(set(pending.reasons) - set(relevant))
    if others:
        lines.append(f"nodes without {' or '.join(sorted(drivers))} devices: {', '.join(others)}")
    return "\n".join(lines) or pending.message


def _pod_reference(pod: dict[str, Any]) -> ObjectReference:
    meta = pod.get("metadata", {})
    return ObjectReference(
        api_version="v1",
        kind="Pod",
        name=meta.get("name"),
        namespace=meta.get("namespace"),
        uid=meta.get("uid"),
    )
