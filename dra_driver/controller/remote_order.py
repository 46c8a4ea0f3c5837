"""A node's card order fed by the cluster-side controller (DESIGN §8): no claim watch on the node.

Owns: ``ControllerCardOrder``, the node plugin's ``CardOrder`` when it is started with
``--policy-url``: every ``interval_seconds`` it reads ``GET <url>/card-usage?node=&driver=`` from
``hdra controller`` (the use score of each of this node's cards, computed there from one watch on
all claims) and orders its cards with ``controller.ordering.order_cards`` (``order_cards_by_score``, so the
order is the one ``slices.usage`` defines); when the order changes it asks the slice controller to re-publish.
An unreachable controller keeps the last order (logged), so the node keeps publishing.
It must never write to the API.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from dra_driver.controller.ordering import Policy, check_policy, order_cards_by_score
from dra_driver.controller.policy_tracker import SyncRequester
from dra_driver.devices import AcceleratorDevice

log = logging.getLogger("hdra.controller")


class ControllerCardOrder:
    """Orders ``cards`` by ``policy`` from the card use ``hdra controller`` serves at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        driver: str,
        node_name: str,
        cards: Sequence[AcceleratorDevice],
        policy: Policy,
        controller: SyncRequester,
        interval_seconds: float = 2.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        query = urllib.parse.urlencode({"node": node_name, "driver": driver})
        self._url = f"{url.rstrip('/')}/card-usage?{query}"
        self._cards = tuple(cards)
        self._policy = check_policy(policy)
        self._controller = controller
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._lock = threading.Lock()
        self._order = tuple(order_cards_by_score(self._cards, {}, "none"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fetches = 0

    @property
    def policy(self) -> Policy:
        return self._policy

    def cards(self) -> list[AcceleratorDevice]:
        with self._lock:
            return list(self._order)

    def start(self) -> None:
        if self._policy == "none":
            return
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="hdra-card-order", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout + 1.0)

    def refresh(self) -> bool:
        """Fetch the use once and re-order; True when the order changed (then a re-publish is asked)."""
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as answer:  # noqa: S310 - configured URL
                scores = json.loads(answer.read()).get("cards") or {}
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.warning("card usage from the controller unavailable, keeping the order: %s", exc)
            return False
        self.fetches += 1
        order = tuple(
            order_cards_by_score(self._cards, {str(u): float(s) for u, s in scores.items()}, self._policy)
        )
        with self._lock:
            changed = [c.name for c in order] != [c.name for c in self._order]
            self._order = order
        if changed:
            log.info("card order now %s", ", ".join(card.name for card in order))
            self._controller.request_sync()
        return changed

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.refresh()
