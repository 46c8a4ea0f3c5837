"""The search skips a subtree that can only fail (``NodeSearch._cannot_fill``) and nothing else.

A request for more devices than the node can still give walks every subset of the node's devices
in upstream's depth-first search and ends unsatisfiable; hdra's port returns the same answer
without the walk (so a small step budget no longer times out on it), but still evaluates every
device's selectors first, so a CEL runtime error on any device surfaces exactly as upstream's does.
"""

from __future__ import annotations

from typing import Any

from dra_driver.sim import ClusterState
from tests.sim.builders import GPU_CLASS, attrs, claim, device, exact, rslice

NODE = "n1"


def _slices(cards: int) -> list[dict[str, Any]]:
    return [rslice("s", NODE, [device(f"gpu-{i}", attributes=attrs(index=i)) for i in range(cards)])]


def test_more_devices_than_the_node_has_is_unsatisfiable_within_a_small_step_budget() -> None:
    # 8 cards, 9 asked: upstream's search visits all 2^8 subsets (256 steps) and fails; a budget of
    # 40 steps used to time out here.
    state = ClusterState(_slices(8), [GPU_CLASS], max_steps=40)
    outcome = state.allocate([claim("nine", exact("gpu", count=9))], NODE)
    assert outcome.outcome == "unsatisfiable", outcome.error
    # The first descent (9 steps), then each level's remaining candidates once: 1 + 8 + 8*7/2, not 2^8.
    assert outcome.search is not None and outcome.search.steps <= 1 + 8 + 8 * 7 // 2


def test_a_fitting_request_is_still_allocated() -> None:
    state = ClusterState(_slices(8), [GPU_CLASS])
    outcome = state.allocate([claim("eight", exact("gpu", count=8))], NODE)
    assert outcome.outcome == "allocated"
    devices = [r["device"] for r in outcome.allocations[0]["devices"]["results"]]
    assert devices == [f"gpu-{i}" for i in range(8)]


def test_a_selector_error_on_the_last_device_still_surfaces() -> None:
    # The runtime error happens only on gpu-7: the first descent reaches it before any pruning.
    mine = 'device.attributes["gpu.example.com"]'
    failing = f"{mine}.index == 7 ? {mine}.missing == 1 : true"
    state = ClusterState(_slices(8), [GPU_CLASS])
    outcome = state.allocate([claim("nine", exact("gpu", failing, count=9))], NODE)
    assert outcome.outcome == "error"
    assert outcome.error is not None and "no such key: 'missing'" in outcome.error
