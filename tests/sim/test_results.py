"""The shape of ``status.allocation``: consumed capacity after rounding, share IDs, configs, tolerations,
admin access, node selector; ``reserve``; committing and releasing usage."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dra_driver.sim import AllocationError, ClusterState, Pending, Placement, allocate_claim, reserve
from tests.sim.builders import GPU_CLASS, allocated, claim, device_class, exact, first_available
from tests.sim.test_allocation_cases import ADMIN_NS, FOUR, SHARED, TAINTED, A

NODE_SELECTOR = {
    "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
}


def _place(state: ClusterState, *claims: dict[str, Any], **kw: Any) -> Placement:
    outcome = state.place_pod(list(claims), **kw)
    assert isinstance(outcome, Placement), outcome.message if isinstance(outcome, Pending) else outcome
    return outcome


@pytest.mark.parametrize(
    ("requests", "consumed"),
    [
        # Nothing requested: memory/cores take their policy default, bw (no policy) its whole value.
        ({}, {"bw": "10", "cores": "10", "memory": "4Gi"}),
        # validRange: 4.5Gi → min 1Gi + ceil(3.5/2) x 2Gi = 5Gi; validValues: 30 → 50.
        ({"memory": "4608Mi", "cores": "30"}, {"bw": "10", "cores": "50", "memory": "5Gi"}),
        # Below min → min; exactly a valid value stays; no policy → exactly the request.
        ({"memory": "512Mi", "cores": "25", "bw": "3"}, {"bw": "3", "cores": "25", "memory": "1Gi"}),
    ],
)
def test_consumed_capacity_rounding(requests: dict[str, str], consumed: dict[str, str]) -> None:
    allocation = allocate_claim(
        claim("c", exact("r", capacity=requests)), SHARED, node="n1", classes=[GPU_CLASS]
    )
    (result,) = allocation["devices"]["results"]
    assert result["consumedCapacity"] == consumed
    assert uuid.UUID(result["shareID"]).version == 4
    assert allocation["nodeSelector"] == NODE_SELECTOR


def test_share_ids_are_fresh_and_seeded() -> None:
    def run(seed: int) -> list[str]:
        state = ClusterState(SHARED, [GPU_CLASS], seed=seed)
        ids = []
        for name in ("a", "b"):
            placement = _place(state, claim(name, exact("r", capacity={"bw": "1"})))
            state.commit(placement)
            ids.append(placement.allocations[0].allocation["devices"]["results"][0]["shareID"])
        return ids

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    assert len(set(first)) == 2


def test_uuid_factory_is_injected() -> None:
    names = iter(["share-1", "share-2"])
    state = ClusterState(SHARED, [GPU_CLASS], uuid_factory=lambda: next(names))
    placement = _place(state, claim("c", exact("r", count=2, capacity={"bw": "1"})))
    assert [r["shareID"] for r in placement.allocations[0].allocation["devices"]["results"]] == [
        "share-1",
        "share-2",
    ]


def test_exclusive_results_have_no_share_fields() -> None:
    allocation = allocate_claim(claim("c", exact("r")), FOUR, node="n1", classes=[GPU_CLASS])
    assert allocation == {
        "devices": {"results": [{"request": "r", "driver": "gpu.example.com", "pool": "n1", "device": "g0"}]},
        "nodeSelector": NODE_SELECTOR,
    }


def test_configs_class_first_then_claim() -> None:
    opaque = {"opaque": {"driver": "gpu.example.com", "parameters": {"kind": "A"}}}
    claim_config = {"opaque": {"driver": "gpu.example.com", "parameters": {"kind": "B"}}}
    gpu = device_class("gpu", 'device.driver == "gpu.example.com"', config=[opaque])
    body = claim(
        "c",
        first_available("x", ("big", [f'{A}.model == "B200"']), ("small", [f'{A}.model == "A100"'])),
        exact("y"),
        exact("z", cls="other"),
        config=[
            {"requests": ["x/small"], **claim_config},  # names the chosen sub-request: kept
            {"requests": ["x/big"], **claim_config},  # names the sub-request not chosen: dropped
            claim_config,  # no requests: applies to all
        ],
    )
    other = device_class("other", 'device.driver == "gpu.example.com"')
    allocation = allocate_claim(body, FOUR, node="n1", classes=[gpu, other])
    assert allocation["devices"]["config"] == [
        {"source": "FromClass", "requests": ["x/small", "y"], **opaque},
        {"source": "FromClaim", "requests": ["x/small"], **claim_config},
        {"source": "FromClaim", **claim_config},
    ]


def test_class_config_lists_every_request_of_the_class() -> None:
    """Upstream adds a class's configs once and appends each later request of that class
    (d-r-a structured/internal/incubating/allocator_incubating.go, "Populate configs")."""
    opaque = {"opaque": {"driver": "gpu.example.com", "parameters": {"kind": "A"}}}
    gpu = device_class("gpu", 'device.driver == "gpu.example.com"', config=[opaque])
    allocation = allocate_claim(claim("c", exact("a"), exact("b")), FOUR, node="n1", classes=[gpu])
    assert allocation["devices"]["config"] == [{"source": "FromClass", "requests": ["a", "b"], **opaque}]


def test_tolerations_are_copied() -> None:
    toleration = {"key": "maint", "operator": "Exists"}
    allocation = allocate_claim(
        claim("c", exact("r", tolerations=[toleration])), TAINTED, node="n1", classes=[GPU_CLASS]
    )
    assert allocation["devices"]["results"][0]["tolerations"] == [toleration]


def test_admin_access_is_flagged_and_consumes_nothing() -> None:
    state = ClusterState(FOUR, [GPU_CLASS], namespaces=ADMIN_NS)
    admin = _place(state, claim("watch", exact("r", f'{A}.uuid == "u1"', admin=True), namespace="ops"))
    assert admin.allocations[0].allocation["devices"]["results"][0]["adminAccess"] is True
    state.commit(admin)
    normal = _place(state, claim("work", exact("r", f'{A}.uuid == "u1"')))
    assert normal.allocations[0].allocation["devices"]["results"][0]["device"] == "g1"


def test_commit_holds_devices_and_release_frees_them() -> None:
    state = ClusterState(FOUR, [GPU_CLASS])
    first = _place(state, claim("a", exact("r")))
    claims = state.commit(first)
    assert claims[0]["status"]["allocation"] == first.allocations[0].allocation
    second = _place(state, claim("b", exact("r")))
    assert second.allocations[0].allocation["devices"]["results"][0]["device"] == "g1"
    state.release("default/a")
    again = _place(state, claim("c", exact("r")))
    assert again.allocations[0].allocation["devices"]["results"][0]["device"] == "g0"


def test_stale_placement_is_refused() -> None:
    state = ClusterState(FOUR, [GPU_CLASS])
    first = _place(state, claim("a", exact("r")))
    second = _place(state, claim("b", exact("r")))
    state.commit(first)
    with pytest.raises(AllocationError, match="stale"):
        state.commit(second)


def test_placement_claims_reserve_the_pod() -> None:
    state = ClusterState(FOUR, [GPU_CLASS])
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "pod-uid"}}
    placement = _place(state, claim("a", exact("r")), pod=pod)
    (written,) = state.commit(placement)
    assert written["status"]["reservedFor"] == [{"resource": "pods", "name": "p", "uid": "pod-uid"}]


def test_reserve_is_idempotent_and_needs_an_allocation() -> None:
    body = allocated("a", "n1", "n1/g0")
    once = reserve(body, ("p", "u1"))
    twice = reserve(once, ("p", "u1"))
    assert twice["status"]["reservedFor"] == [{"resource": "pods", "name": "p", "uid": "u1"}]
    assert "reservedFor" not in body["status"]
    with pytest.raises(ValueError, match="not allocated"):
        reserve(claim("b", exact("r")), ("p", "u1"))
    with pytest.raises(ValueError, match="uid"):
        reserve(body, {"metadata": {"name": "p"}})


def test_allocate_claim_raises_with_reasons() -> None:
    with pytest.raises(AllocationError, match=r"cannot be allocated on node n1:\n.*B200"):
        allocate_claim(claim("c", exact("r", f'{A}.model == "B200"')), FOUR, node="n1", classes=[GPU_CLASS])
    with pytest.raises(AllocationError, match="node 'n9'"):
        allocate_claim(claim("c", exact("r")), FOUR, node="n9", classes=[GPU_CLASS])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (claim("c", {"name": "r"}), "set exactly one of 'exactly' and 'firstAvailable'"),
        (claim("c", exact("r", count=0)), "count 0 must be a positive integer"),
        (claim("c", exact("r"), constraints=[{"matchAttribute": "numa"}]), "must be fully qualified"),
        (claim("c", exact("r"), exact("r")), "not unique"),
        (claim("c", exact("r", mode="Some")), "allocationMode 'Some'"),
    ],
)
def test_malformed_claims_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        ClusterState(FOUR, [GPU_CLASS]).place_pod([body])


def test_unknown_class_is_pending() -> None:
    outcome = ClusterState(FOUR, [GPU_CLASS]).place_pod([claim("c", exact("r", cls="nope"))])
    assert isinstance(outcome, Pending)
    assert (
        'could not retrieve device class nope: deviceclasses.resource.k8s.io "nope" not found'
        in outcome.message
    )
