"""Explain: the first reason per device for taints, usage, pools and constraints, allocated claims,
and the rendering."""

from __future__ import annotations

from dra_driver.sim import ClusterState, Placement, explain_claim, place_pod, render_explanation
from tests.sim.builders import DRIVER, GPU_CLASS, allocated, claim, device, exact, rslice
from tests.sim.test_allocation_cases import FOUR, TAINTED


def _reasons(state: ClusterState, body: dict[str, object]) -> dict[str, str | None]:
    explanation = explain_claim(body, state)
    return {v.device: v.reason for v in explanation.requests[0].devices}


def test_taint_and_usage_reasons() -> None:
    state = ClusterState(TAINTED, [GPU_CLASS], claims=[allocated("old", "n1", "n1/g3")])
    reasons = _reasons(state, claim("c", exact("r")))
    assert reasons == {
        "g0": "taint maint=yes:NoSchedule is not tolerated",
        "g1": "taint health=bad:NoExecute is not tolerated",
        "g2": None,
        "g3": "already allocated to claim default/old",
    }


def test_pool_and_constraint_reasons() -> None:
    slices = [*FOUR, rslice("n2-a", "n2", [device("d")], count=2)]
    state = ClusterState(slices, [GPU_CLASS])
    body = claim("c", exact("r"), constraints=[{"matchAttribute": f"{DRIVER}/numa"}])
    explanation = explain_claim(body, state)
    reasons = {(v.node, v.device): v.reason for v in explanation.requests[0].devices}
    assert ("n2", "d") not in reasons  # the allocator sees no devices of an incomplete pool
    assert reasons[("n1", "g3")] == "matchAttribute gpu.example.com/numa: the device has no such attribute"
    assert reasons[("n1", "g0")] is None
    assert explanation.status == "allocatable"
    assert explanation.node == "n1"
    assert (
        "resource pool gpu.example.com/n2 is currently being updated (incomplete): generation 1 has 1 "
        "slice(s) but resourceSliceCount is 2"
    ) in explanation.notes


def test_allocated_claim_is_judged_without_its_own_allocation() -> None:
    held = allocated("held", "n1", "n1/g0")
    state = ClusterState(FOUR, [GPU_CLASS], claims=[held])
    explanation = explain_claim(held, state)
    assert explanation.status == "allocated"
    assert explanation.node == "n1"
    assert explanation.devices == ["r: gpu.example.com/n1/g0"]
    assert explanation.requests[0].devices[0].usable  # its own device is not "in use" by itself
    text = render_explanation(explanation)
    assert "Claim default/held: ALLOCATED" in text
    assert "allocated on node n1: r: gpu.example.com/n1/g0" in text


def test_refused_selector_is_an_error_and_every_device_says_why() -> None:
    state = ClusterState(FOUR, [GPU_CLASS])
    explanation = explain_claim(claim("c", exact("r", "cel.bind(x, 1, x == 1)")), state)
    assert explanation.status == "pending"
    assert "cel.bind macro is not supported" in explanation.errors[0]
    assert all(
        v.kind == "selector" and "refused" in (v.reason or "") for v in explanation.requests[0].devices
    )


def test_place_pod_function() -> None:
    state = ClusterState(FOUR, [GPU_CLASS])
    outcome = place_pod(state, [claim("c", exact("r", count=2))])
    assert isinstance(outcome, Placement)
    assert outcome.allocation("default/c")["devices"]["results"][1]["device"] == "g1"
