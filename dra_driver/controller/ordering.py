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
from typing import Literal, get_args

from dra_driver.controller.usage import CardUsage
from dra_driver.devices import AcceleratorDevice

Policy = Literal["binpack", "spread", "none"]
POLICIES: tuple[Policy, ...] = get_args(Policy)


def check_policy(policy: str) -> Policy:
    """``policy`` as a ``Policy``; a ValueError naming the value and the choices otherwise."""
    for known in POLICIES:
        if policy == known:
            return known
    raise ValueError(f"unknown card policy {policy!r}; choose one of {', '.join(POLICIES)}")


def order_cards(
    cards: Sequence[AcceleratorDevice], usage: Mapping[str, CardUsage], policy: Policy
) -> list[AcceleratorDevice]:
    """``cards`` in the order ``policy`` prefers; ``usage`` is keyed by card uuid.

    A card without an entry in ``usage`` counts as unused.
    """
    policy = check_policy(policy)

    def score(card: AcceleratorDevice) -> float:
        entry = usage.get(card.uuid)
        return entry.score if entry is not None else 0.0

    if policy == "binpack":
        return sorted(cards, key=lambda card: (-score(card), card.index))
    if policy == "spread":
        return sorted(cards, key=lambda card: (score(card), card.index))
    return sorted(cards, key=lambda card: card.index)
