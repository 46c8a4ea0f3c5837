"""One placement policy: the simulator orders cards and nodes exactly as the node plugin's card order
(``controller.ordering.order_cards``) and the extender's scores (``controller.node_scores``) do,
because all of them take card and node use from ``dra_driver.slices.usage``."""

from __future__ import annotations

import pytest

from dra_driver.controller.node_scores import ExtenderArgs, prioritize
from dra_driver.controller.ordering import order_cards
from dra_driver.devices import make_backend
from dra_driver.sim import ClusterState, Placement, Policy
from dra_driver.slices.usage import card_usage, node_usage
from tests.sim.builders import claim, exact, mock_slices

DRIVER = "mock.hdra.io"
NODES = ("node-a", "node-b", "node-c")


def _workload(state: ClusterState, policy: Policy) -> list[dict[str, object]]:
    """Claims of different sizes placed and committed one by one; returns the allocated claims."""
    allocated: list[dict[str, object]] = []
    sizes = ["10Gi", "20Gi", "30Gi", "5Gi", "40Gi", "10Gi", "25Gi"]
    for i, memory in enumerate(sizes):
        body = claim(f"c{i}", exact("gpu", cls=DRIVER, capacity={"memory": memory, "cores": "10"}))
        outcome = state.place_pod([body], policy=policy)
        assert isinstance(outcome, Placement)
        allocated += state.commit(outcome)
    return allocated


@pytest.mark.parametrize("policy", [Policy.BINPACK, Policy.SPREAD])
def test_simulator_orders_like_the_node_plugin_and_the_extender(policy: Policy) -> None:
    slices = [s for node in NODES for s in mock_slices(node, "a100x4")]
    state = ClusterState(slices, seed=1)
    claims = _workload(state, policy)
    cards = card_usage(slices, claims, drivers=[DRIVER])
    for node in NODES:
        devices = make_backend("mock", node_name=node, profile="a100x4").discover()
        plugin = [d.uuid for d in order_cards(devices, cards, policy.value)]  # type: ignore[arg-type]
        simulated: list[str] = []
        for device in state.device_order(node, policy):
            uuid = str((device.attribute(f"{DRIVER}/uuid") or {}).get("string"))
            if uuid not in simulated:
                simulated.append(uuid)
        assert simulated == plugin, node
    pod = {"metadata": {"name": "p"}, "spec": {"resourceClaims": [{"name": "gpu"}]}}
    scores = prioritize(ExtenderArgs(pod, list(NODES)), node_usage(cards), policy.value)  # type: ignore[arg-type]
    by_score = sorted(NODES, key=lambda n: (-next(int(s["Score"]) for s in scores if s["Host"] == n), n))
    assert state.node_order(policy) == by_score
    assert len({int(s["Score"]) for s in scores}) > 1  # the workload really separates the nodes
