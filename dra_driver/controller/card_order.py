"""A node's current card order under a card policy, and the re-publish it asks for when it changes.

Owns: ``SyncRequester`` (what an order needs of the slice controller) and ``CardOrderState``, the
one definition of the order's state that both sources of card use share: ``CardPolicyTracker``
(``policy_tracker.py``, its own claim watch) and ``ControllerCardOrder`` (``remote_order.py``,
``hdra controller``'s ``GET /card-usage``). ``cards()`` is the publisher's ``devices`` callable
(with ``keep_order=True``), so the published device order is the policy order; ``policy`` is the
checked card policy; ``apply(scores)`` orders the cards by their use scores
(``ordering.order_cards_by_score``) and, only when the order changed, logs it and calls
``request_sync()`` once. Before the first ``apply`` the cards are in index order.
It must never read the API or publish anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Protocol

from dra_driver.controller.ordering import Policy, check_policy, order_cards_by_score
from dra_driver.devices import AcceleratorDevice

log = logging.getLogger("hdra.controller")


class SyncRequester(Protocol):
    """What a card order needs of the slice controller."""

    def request_sync(self) -> None: ...


class CardOrderState:
    """The cards of ``node_name`` in ``policy`` order; ``apply`` changes it, ``cards`` reads it."""

    def __init__(
        self,
        *,
        node_name: str,
        cards: Sequence[AcceleratorDevice],
        policy: Policy,
        controller: SyncRequester,
    ) -> None:
        self._node = node_name
        self._cards = tuple(cards)
        self._policy = check_policy(policy)
        self._controller = controller
        self._lock = threading.Lock()
        self._order = tuple(order_cards_by_score(self._cards, {}, "none"))

    @property
    def policy(self) -> Policy:
        return self._policy

    def cards(self) -> list[AcceleratorDevice]:
        """The cards in the current policy order: the publisher's ``devices`` callable."""
        with self._lock:
            return list(self._order)

    def apply(self, scores: Mapping[str, float]) -> bool:
        """Order the cards by ``scores`` (use score per card uuid, 0 when absent); True when the
        order changed, and then the slice controller was asked to re-publish."""
        order = tuple(order_cards_by_score(self._cards, scores, self._policy))
        with self._lock:
            changed = [c.name for c in order] != [c.name for c in self._order]
            self._order = order
        if changed:
            log.info(
                "card policy %s on node %s: card order now %s",
                self._policy,
                self._node,
                ", ".join(card.name for card in order),
            )
            self._controller.request_sync()
        return changed
