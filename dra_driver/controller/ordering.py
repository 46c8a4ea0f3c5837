"""Card-level scheduling policy: the order in which a node lists its cards (DESIGN section 8).

The allocator takes the first device that fits, in slice order, so the order in which the node
plugin publishes its cards is its card preference:

* ``binpack`` — most-used card first, so new claims fill cards that are already in use and whole
  cards stay free for large requests;
* ``spread`` — least-used card first, so claims land on idle cards and interfere less;
* ``none`` — card index order (what ``build_slices`` does by default).

Ties (equal usage score, see ``usage.CardUsage.score``) keep card index order, so the order is
deterministic and only changes when usage really changes. This module owns only the ordering;
it must never read the API or publish anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dra_driver.devices import AcceleratorDevice
from dra_driver.slices.usage import CARD_POLICIES as POLICIES
from dra_driver.slices.usage import CardPolicy as Policy
from dra_driver.slices.usage import CardUsage, order_by_use
from dra_driver.slices.usage import check_card_policy as check_policy

__all__ = ["POLICIES", "Policy", "check_policy", "order_cards", "order_cards_by_score"]


def order_cards(
    cards: Sequence[AcceleratorDevice], usage: Mapping[str, CardUsage], policy: Policy
) -> list[AcceleratorDevice]:
    """``cards`` in the order ``policy`` prefers; ``usage`` is keyed by card uuid (``slices.usage``).

    A card without an entry in ``usage`` counts as unused.
    """
    return order_cards_by_score(cards, {uuid: entry.score for uuid, entry in usage.items()}, policy)


def order_cards_by_score(
    cards: Sequence[AcceleratorDevice], scores: Mapping[str, float], policy: Policy
) -> list[AcceleratorDevice]:
    """``cards`` in the order ``policy`` prefers, given each card's use score by uuid (0 when absent)."""
    return order_by_use(
        sorted(cards, key=lambda card: card.index), lambda card: scores.get(card.uuid, 0.0), policy
    )
