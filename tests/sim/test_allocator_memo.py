"""The allocator's reuse between pods goes stale exactly when DESIGN §13 says (issue 17 item 4).

Each test remembers something (an unsatisfiable claim shape on a node, a node order, a pending pod's
reasons) and then changes the state by another path than a commit: a release, new slices, new
classes, a commit on another node. The answer must be what a fresh ``ClusterState`` with the same
inputs gives.
"""

from __future__ import annotations

from typing import Any

from dra_driver.sim import ClusterState, Pending, Placement, Policy
from tests.sim.builders import CLASS, GPU_CLASS, claim, device, device_class, exact, rslice


def _node(name: str, gpus: int = 1) -> dict[str, Any]:
    return rslice(f"{name}-slice", name, [device(f"gpu-{i}") for i in range(gpus)])


def _one_gpu(name: str) -> dict[str, Any]:
    return claim(name, exact("gpu"))


def _place(state: ClusterState, pod_claim: dict[str, Any], policy: str | None = None) -> Placement | Pending:
    return state.place_pod([pod_claim], policy=policy)


def test_a_release_makes_a_remembered_unsatisfiable_node_usable_again() -> None:
    state = ClusterState([_node("n1")], [GPU_CLASS], seed=1)
    first = _place(state, _one_gpu("a"))
    assert isinstance(first, Placement)
    state.commit(first)
    assert isinstance(_place(state, _one_gpu("b")), Pending)  # remembered: this shape does not fit n1
    state.release("default/a")
    again = _place(state, _one_gpu("c"))
    assert isinstance(again, Placement), again.message if isinstance(again, Pending) else again
    assert again.node == "n1"


def test_new_slices_forget_what_did_not_fit() -> None:
    state = ClusterState([_node("n1")], [GPU_CLASS], seed=1)
    state.commit(_placed(_place(state, _one_gpu("a"))))
    assert isinstance(_place(state, _one_gpu("b")), Pending)
    state.add_slices([_node("n2")])
    placed = _place(state, _one_gpu("c"))
    assert isinstance(placed, Placement) and placed.node == "n2"


def test_new_classes_forget_what_did_not_fit_but_old_reasons_keep_the_old_class() -> None:
    state = ClusterState([_node("n1")], [device_class(CLASS, 'device.driver == "other.example.com"')], seed=1)
    pending = _place(state, _one_gpu("a"))
    assert isinstance(pending, Pending)
    state.add_classes([GPU_CLASS])
    placed = _place(state, _one_gpu("b"))
    assert isinstance(placed, Placement) and placed.node == "n1"
    # Reasons are built when read, from the state of when the pod was placed: still the old class.
    fresh = ClusterState([_node("n1")], [device_class(CLASS, 'device.driver == "other.example.com"')], seed=1)
    expected = _place(fresh, _one_gpu("a"))
    assert isinstance(expected, Pending)
    assert pending.message == expected.message
    assert "is false" in pending.message


def test_reasons_read_after_later_commits_describe_their_own_moment() -> None:
    slices = [_node("n1", gpus=2)]
    state = ClusterState(slices, [GPU_CLASS], seed=1)
    pod_claim = claim("big", exact("gpu", count=3))
    early = _place(state, pod_claim)
    assert isinstance(early, Pending)
    state.commit(_placed(_place(state, _one_gpu("a"))))
    late = _place(state, pod_claim)
    assert isinstance(late, Pending)
    assert "2 of 2 device(s) usable, 3 needed" in early.message  # read only now, after the commit
    assert "1 of 2 device(s) usable, 3 needed" in late.message
    assert "already allocated to claim default/a" in late.message


def test_binpack_node_order_follows_commits_and_releases_like_a_fresh_state() -> None:
    slices = [_node(f"n{i}", gpus=4) for i in range(4)]
    state = ClusterState(slices, [GPU_CLASS], seed=1)
    for index in range(5):
        state.commit(_placed(_place(state, _one_gpu(f"c{index}"), "spread")))
    state.release("default/c1")
    for policy in ("binpack", "spread"):
        fresh = ClusterState(slices, [GPU_CLASS], claims=_allocated_claims(state), seed=1)
        assert state.node_order(Policy.parse(policy)) == fresh.node_order(Policy.parse(policy))


def _allocated_claims(state: ClusterState) -> list[dict[str, Any]]:
    out = []
    for key, allocation in state.usage.claims.items():
        namespace, name = key.split("/", 1)
        out.append(
            {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"devices": {"requests": []}},
                "status": {"allocation": allocation},
            }
        )
    return out


def _placed(outcome: Placement | Pending) -> Placement:
    assert isinstance(outcome, Placement), outcome.message if isinstance(outcome, Pending) else outcome
    return outcome
