"""Nodes the real scheduler cannot tell apart: ``place_pod(ties=True)`` and ``sim/scores.py`` (DESIGN §8).

Upstream facts the score follows are pinned where they are used: ``nodeScoreHeap`` and the
extender scaling in kubernetes v1.36.3 ``pkg/scheduler/schedule_one.go``, the DynamicResources
score in ``pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go``.
"""

from __future__ import annotations

from typing import Any

from dra_driver.sim import ClusterState, Pending, Placement, Policy, seeded_uuids
from dra_driver.sim.placement import ClaimAllocation
from dra_driver.sim.scores import normalize, prioritized_list_score, total_scores
from tests.sim.builders import DRIVER, GPU_CLASS, allocated, claim, device, exact, first_available, rslice


def _cluster(*nodes: tuple[str, list[str]], claims: tuple[dict[str, Any], ...] = ()) -> ClusterState:
    """One slice per node with the named devices, each a whole card (a ``uuid`` attribute)."""
    slices = [
        rslice(
            f"{node}-slice",
            node,
            [
                device(
                    name,
                    attributes={
                        "uuid": {"string": f"{node}-{name}"},
                        "model": {"string": name.split("-")[0]},
                    },
                    capacity={"memory": {"value": "40Gi"}},
                )
                for name in names
            ],
        )
        for node, names in nodes
    ]
    return ClusterState(slices=slices, classes=[GPU_CLASS], claims=claims, seed=1)


def _placed(outcome: Placement | Pending) -> Placement:
    assert isinstance(outcome, Placement), outcome
    return outcome


def test_equal_nodes_tie_and_each_tie_names_its_devices() -> None:
    state = _cluster(("node-a", ["a100-0"]), ("node-b", ["a100-0"]), ("node-c", ["v100-0"]))
    pod = [claim("c", exact("r", 'device.attributes["gpu.example.com"].model == "a100"'))]
    placement = _placed(state.place_pod(pod, policy=Policy.BINPACK, ties=True))
    assert placement.node == "node-a"
    assert [(t.node, t.device_names()) for t in placement.ties] == [("node-b", ["a100-0"])]
    assert placement.ties[0].devices == {
        "default/c": [{"request": "r", "driver": DRIVER, "pool": "node-b", "device": "a100-0"}]
    }
    # Without asking, no other node is tried and no tie is reported.
    assert _placed(state.place_pod(pod, policy=Policy.BINPACK)).ties == []


def test_a_higher_extender_score_is_no_tie() -> None:
    used = allocated("old", "node-b", "node-b/a100-0")
    state = _cluster(("node-a", ["a100-0", "a100-1"]), ("node-b", ["a100-0", "a100-1"]), claims=(used,))
    pod = [claim("c", exact("r"))]
    binpack = _placed(state.place_pod(pod, policy=Policy.BINPACK, ties=True))
    assert (binpack.node, binpack.ties) == ("node-b", [])
    spread = _placed(state.place_pod(pod, policy=Policy.SPREAD, ties=True))
    assert (spread.node, spread.ties) == ("node-a", [])
    # First fit: no extender, so the used node ties with the empty one.
    first_fit = _placed(state.place_pod(pod, policy=Policy.FIRST_FIT, ties=True))
    assert (first_fit.node, [t.node for t in first_fit.ties]) == ("node-a", ["node-b"])


def test_first_available_and_extender_scores_add_up() -> None:
    """DynamicResources (weight 2) scores the first sub-request 8, the second 7: normalized 100 and
    87, 200 and 174 points. The extender adds 10 points per binpack level: a used V100 node wins
    over an empty A100 node only from 3 levels (30 points) on."""
    pod = [
        claim(
            "c",
            first_available(
                "r",
                ("a100", ['device.attributes["gpu.example.com"].model == "a100"']),
                ("v100", ['device.attributes["gpu.example.com"].model == "v100"']),
            ),
        )
    ]
    used = allocated("old", "node-v", "node-v/v100-0")
    for cards, level, winner, device_name in ((5, 2, "node-a", "a100-0"), (4, 3, "node-v", "v100-1")):
        names = [f"v100-{i}" for i in range(cards)]
        state = _cluster(("node-a", ["a100-0"]), ("node-v", names), claims=(used,))
        assert state.extender_scores(Policy.BINPACK) == {"node-a": 0, "node-v": level}
        placement = _placed(state.place_pod(pod, policy=Policy.BINPACK, ties=True))
        assert (placement.node, placement.device_names(), placement.ties) == (winner, [device_name], [])
        # Nodes are scored even without asking for ties: the choice must not depend on it.
        assert _placed(state.place_pod(pod, policy=Policy.BINPACK)).node == winner


def test_the_chosen_node_keeps_reproducible_share_ids() -> None:
    """Looking at tie nodes draws no share IDs: the chosen placement's are the ones without ties."""
    slices = [
        rslice(
            f"{node}-slice",
            node,
            [
                device(
                    "gpu-0",
                    attributes={"uuid": {"string": f"{node}-gpu-0"}},
                    capacity={"memory": {"value": "40Gi"}},
                    multi=True,
                )
            ],
        )
        for node in ("node-a", "node-b")
    ]
    pod = [claim("c", exact("r", capacity={"memory": "1Gi"}))]
    with_ties = ClusterState(slices=slices, classes=[GPU_CLASS], uuid_factory=seeded_uuids(7))
    without = ClusterState(slices=slices, classes=[GPU_CLASS], uuid_factory=seeded_uuids(7))
    first = _placed(with_ties.place_pod(pod, ties=True))
    second = _placed(without.place_pod(pod))
    assert first.ties and "shareID" not in first.ties[0].devices["default/c"][0]
    assert first.allocations[0].allocation == second.allocations[0].allocation


def test_prioritized_list_score_follows_compute_score() -> None:
    spec = claim(
        "c",
        first_available("r", ("a", []), ("b", []), ("c", [])),
        exact("x"),
        first_available("s", ("only", [])),
    )

    def on(*requests: str) -> ClaimAllocation:
        results = [{"request": r, "driver": DRIVER, "pool": "p", "device": "d"} for r in requests]
        return ClaimAllocation(spec, {"devices": {"results": results}})

    assert prioritized_list_score([on("r/a", "x", "s/only")]) == 8 + 8
    assert prioritized_list_score([on("r/c", "x", "s/only")]) == 6 + 8
    assert prioritized_list_score([on("x")]) == 0


def test_normalize_and_totals_use_go_integer_arithmetic() -> None:
    assert normalize({"a": 0, "b": 0}) == {"a": 0, "b": 0}
    assert normalize({"a": 16, "b": 15, "c": 7}) == {"a": 100, "b": 93, "c": 43}
    assert total_scores({"a": 3}, {"a": 8, "b": 7}) == {"a": 2 * 100 + 30, "b": 2 * 87}
