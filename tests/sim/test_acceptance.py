"""Issue acceptance: explain names the failing selector and the exhausted capacity; binpack packs 40
quarter-card claims onto the fewest cards and spread onto the most. Inventories are the slices hdra
itself publishes for mock A100/H200 nodes."""

from __future__ import annotations

import json
from typing import Any

from dra_driver.sim import ClusterState, Placement, explain_claim, render_explanation
from dra_driver.slices import SharingMode
from tests.sim.builders import claim, mock_slices
from tests.sim.builders import exact as _exact

MOCK = 'device.attributes["mock.hdra.io"]'


def exact(name: str, *selectors: str, **kw: Any) -> dict[str, Any]:
    """A request for the default class of the mock driver."""
    return _exact(name, *selectors, cls="mock.hdra.io", **kw)


def _a100_nodes(count: int) -> list[dict[str, object]]:
    return [s for i in range(count) for s in mock_slices(f"node-{i:02d}", "a100x4")]


def test_explain_names_the_failing_selector() -> None:
    state = ClusterState(_a100_nodes(1))
    body = claim("h100", exact("gpu", f'{MOCK}.productName == "H100"'))
    explanation = explain_claim(body, state)
    assert explanation.status == "pending"
    (request,) = explanation.requests
    assert request.usable == 0
    assert request.total == 4
    for verdict in request.devices:
        assert verdict.kind == "selector"
        assert verdict.details["expression"] == f'{MOCK}.productName == "H100"'
        assert "request gpu selector #0" in (verdict.reason or "")
    text = render_explanation(explanation)
    assert f'`{MOCK}.productName == "H100"` is false' in text
    assert "assumed one class per hdra driver" in text
    data = json.loads(render_explanation(explanation, "json"))
    assert data["requests"][0]["devices"][0]["kind"] == "selector"


def test_explain_names_the_exhausted_capacity() -> None:
    state = ClusterState(_a100_nodes(1))
    explanation = explain_claim(claim("big", exact("gpu", capacity={"memory": "50Gi"})), state)
    verdict = explanation.requests[0].devices[0]
    assert verdict.kind == "capacity"
    assert verdict.details == {
        "capacity": "memory",
        "requested": "50Gi",
        "rounded": "50Gi",
        "available": "40Gi",
    }
    assert "capacity 'memory'" in render_explanation(explanation)


def test_explain_capacity_exhausted_by_shares() -> None:
    state = ClusterState(mock_slices("n", "a100x4")[:1])
    for i in range(4):
        placement = state.place_pod([claim(f"c{i}", exact("gpu", capacity={"memory": "30Gi"}))])
        assert isinstance(placement, Placement)
        state.commit(placement)
    explanation = explain_claim(claim("more", exact("gpu", capacity={"memory": "20Gi"})), state)
    details = [v.details for v in explanation.requests[0].devices]
    assert details[0] == {"capacity": "memory", "requested": "20Gi", "rounded": "20Gi", "available": "10Gi"}
    assert "capacity exhausted" in (explanation.requests[0].devices[0].reason or "")


def _quarter_claims(policy: str, nodes: int) -> set[tuple[str, str]]:
    state = ClusterState(_a100_nodes(nodes), seed=1)
    cards: set[tuple[str, str]] = set()
    for i in range(40):
        placement = state.place_pod(
            [claim(f"q{i}", exact("gpu", capacity={"memory": "10Gi"}))], policy=policy
        )
        assert isinstance(placement, Placement), placement
        state.commit(placement)
        result = placement.allocations[0].allocation["devices"]["results"][0]
        assert result["consumedCapacity"]["memory"] == "10Gi"
        cards.add((placement.node, result["device"]))
    return cards


def test_binpack_uses_fewest_cards() -> None:
    # 40 x 10Gi on 40Gi cards: at best 4 per card → 10 cards, on 3 of the 10 nodes.
    cards = _quarter_claims("binpack", nodes=10)
    assert len(cards) == 10
    assert len({node for node, _ in cards}) == 3


def test_spread_uses_most_cards() -> None:
    # 10 nodes x 4 cards = 40 cards: spread gives every claim its own card.
    cards = _quarter_claims("spread", nodes=10)
    assert len(cards) == 40


def test_partitions_mode_inventory() -> None:
    # hdra's partitions layout: the whole card and 1/2, 1/4, 1/8 partitions on one counter set.
    state = ClusterState(mock_slices("p", "a100x4", SharingMode.PARTITIONS))
    half = exact(
        "gpu",
        f'{MOCK}.index == 0 && "parentUUID" in {MOCK}',
        'device.capacity["mock.hdra.io"].memory == quantity("20Gi")',
    )
    first = state.place_pod([claim("h1", half)])
    assert isinstance(first, Placement)
    state.commit(first)
    whole = exact("gpu", f'{MOCK}.index == 0 && !("parentUUID" in {MOCK})')
    explanation = explain_claim(claim("w", whole), state)
    reasons = {v.device: v.reason for v in explanation.requests[0].devices if v.device == "gpu-0"}
    assert "counter 'memory' ran out: needs 40Gi, 20Gi of 40Gi left" in (reasons["gpu-0"] or "")
