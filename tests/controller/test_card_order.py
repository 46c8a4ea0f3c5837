"""``CardOrderState``: the one card-order state both card-use sources share (DESIGN §8)."""

from __future__ import annotations

import pytest

from dra_driver.controller.card_order import CardOrderState
from dra_driver.devices import make_backend


class Syncs:
    def __init__(self) -> None:
        self.count = 0

    def request_sync(self) -> None:
        self.count += 1


def test_order_follows_the_scores_and_asks_for_a_publish_only_on_a_change() -> None:
    cards = make_backend("mock", node_name="node-a", profile="a100x4").discover()
    syncs = Syncs()
    state = CardOrderState(
        node_name="node-a", cards=list(reversed(cards)), policy="binpack", controller=syncs
    )
    assert [c.name for c in state.cards()] == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]  # index order first
    scores = {cards[2].uuid: 0.5, cards[1].uuid: 0.25}
    assert state.apply(scores) is True and syncs.count == 1
    assert [c.name for c in state.cards()] == ["gpu-2", "gpu-1", "gpu-0", "gpu-3"]
    assert state.apply({**scores, cards[2].uuid: 0.75}) is False and syncs.count == 1  # same order
    spread = CardOrderState(node_name="node-a", cards=cards, policy="spread", controller=syncs)
    assert spread.apply(scores) is True
    assert [c.name for c in spread.cards()] == ["gpu-0", "gpu-3", "gpu-1", "gpu-2"]


def test_an_unknown_policy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown card policy 'fullest'"):
        CardOrderState(node_name="n", cards=[], policy="fullest", controller=Syncs())  # type: ignore[arg-type]
