"""A node's card order fed by the cluster-side controller (DESIGN §8): no claim watch on the node.

Owns: ``ControllerCardOrder``, the node plugin's ``CardOrder`` when it is started with
``--policy-url``: every ``interval_seconds`` it reads ``GET <url>/card-usage?node=&driver=`` from
``hdra controller`` (the use score of each of this node's cards, computed there from one watch on
all claims) and hands them to its ``CardOrderState`` (``card_order.py``: the order ``slices.usage``
defines, a re-publish asked only when it changes). An unreachable controller keeps the last order
(logged), so the node keeps publishing.
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

from dra_driver.controller.card_order import CardOrderState, SyncRequester
from dra_driver.controller.ordering import Policy
from dra_driver.devices import AcceleratorDevice

log = logging.getLogger("hdra.controller")


class ControllerCardOrder(CardOrderState):
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
        super().__init__(node_name=node_name, cards=cards, policy=policy, controller=controller)
        query = urllib.parse.urlencode({"node": node_name, "driver": driver})
        self._url = f"{url.rstrip('/')}/card-usage?{query}"
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fetches = 0

    def start(self) -> None:
        if self.policy == "none":
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
        return self.apply({str(u): float(s) for u, s in scores.items()})

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.refresh()
