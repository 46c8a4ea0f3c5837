"""Keeps a node's card order equal to its card policy while claims come and go (DESIGN section 8).

Owns: ``CardPolicyTracker`` — a watch on ResourceClaims of all namespaces that keeps, per claim,
the allocation results of this driver in this node's pool; a watch on this node's slices of the
driver (device names and capacities map results to cards, and the pool may be published only
after the tracker started); a thread that recomputes card usage (``usage.py``) and hands it to its
``CardOrderState`` (``card_order.py``: the order, ``cards()`` for the publisher, and the re-publish
request when the order changed).

Contracts:
- ``request_sync()`` is called only when the order changes, and at most once per debounce
  interval: bursts of claim changes coalesce into one recomputation.
- Usage changes that leave the order as it is cause no re-publish at all.
- Policy ``none`` watches nothing: cards stay in index order.

It must never publish slices or decide generations itself (the publisher does), and never write
to the API: it only lists and watches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from dra_driver.controller.card_order import CardOrderState, SyncRequester
from dra_driver.controller.ordering import Policy
from dra_driver.devices import AcceleratorDevice
from dra_driver.kube import KubeClient, KubeError, watch
from dra_driver.kube.models import ResourceClaim
from dra_driver.slices.usage import (
    CardUsage,
    JsonDict,
    SliceIndex,
    allocation_results,
    usage_from_results,
)

log = logging.getLogger("hdra.controller")

ClaimKey = tuple[str, str]


def _dump(obj: Any) -> JsonDict:
    dumped: JsonDict = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


class CardPolicyTracker(CardOrderState):
    """Orders ``cards`` by ``policy`` from the claims allocated on ``node_name``'s pool of ``driver``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        driver: str,
        node_name: str,
        cards: Sequence[AcceleratorDevice],
        policy: Policy,
        controller: SyncRequester,
        debounce_seconds: float = 1.0,
        resync_seconds: float = 30.0,
    ) -> None:
        super().__init__(node_name=node_name, cards=cards, policy=policy, controller=controller)
        self._client = client
        self._driver = driver
        self._debounce = debounce_seconds
        self._resync = resync_seconds
        self._selector = f"spec.nodeName={node_name},spec.driver={driver}"
        self._usage: dict[str, CardUsage] = {}
        # Per claim (namespace, name): its allocation results on this driver and pool, if any.
        self._claims: dict[ClaimKey, list[JsonDict]] = {}
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sync_requests = 0
        self.recomputations = 0

    def usage(self) -> dict[str, CardUsage]:
        """Card usage (by uuid) as of the last recomputation."""
        with self._lock:
            return dict(self._usage)

    def start(self) -> None:
        """Compute the first order (so the first publish already follows the policy), then watch."""
        if self.policy == "none":
            return
        try:
            listed = self._client.resource_claims.list(None)
            for claim in listed.items:
                self._remember(claim)
            self._recompute()
        except (KubeError, ValueError) as exc:
            log.warning("card policy %s: first usage computation failed, will retry: %s", self.policy, exc)
            self._dirty.set()
        self._threads = [
            threading.Thread(target=self._watch_loop, name="hdra-policy-watch", daemon=True),
            threading.Thread(target=self._slice_watch_loop, name="hdra-policy-slices", daemon=True),
            threading.Thread(target=self._order_loop, name="hdra-policy-order", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, grace_seconds: float = 2.0) -> None:
        self._stop.set()
        self._dirty.set()
        # A thread stuck in an API call (retries included) must not hold up a SIGTERM: wait a
        # short grace in total, then leave it to die with the process (a daemon thread; a write
        # it still finishes is adopted by the next start like any stored slice).
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _remember(self, claim: ResourceClaim, deleted: bool = False) -> bool:
        """Store the claim's results on this pool; True when that changed what the tracker knows."""
        meta = claim.metadata
        key = (meta.namespace or "", meta.name or "") if meta is not None else ("", "")
        results = [] if deleted else allocation_results(_dump(claim), drivers={self._driver}, pool=self._node)
        with self._lock:
            before = self._claims.get(key)
            if results:
                self._claims[key] = results
            else:
                self._claims.pop(key, None)
        return before != (results or None)

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                for event in watch(self._client.resource_claims, stop=self._stop):
                    if self._remember(event.object, deleted=event.type == "DELETED"):
                        self._dirty.set()
            except KubeError as exc:
                log.warning("card policy: claim watch failed, restarting: %s", exc)
                self._stop.wait(1.0)

    def _slice_watch_loop(self) -> None:
        """Any change of this pool's slices (including our own re-publish) means: recompute.

        Re-publishing in the new order leads to one more recomputation that finds the same order,
        so it cannot loop.
        """
        while not self._stop.is_set():
            try:
                for _event in watch(
                    self._client.resource_slices, stop=self._stop, field_selector=self._selector
                ):
                    self._dirty.set()
            except KubeError as exc:
                log.warning("card policy: slice watch failed, restarting: %s", exc)
                self._stop.wait(1.0)

    def _order_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(timeout=self._resync)
            if self._stop.is_set():
                return
            self._dirty.clear()
            try:
                self._recompute()
            except (KubeError, ValueError) as exc:
                log.warning("card policy %s: usage computation failed, will retry: %s", self.policy, exc)
                self._dirty.set()
            # The debounce: at most one recomputation, hence one request_sync, per interval.
            self._stop.wait(self._debounce)

    def _recompute(self) -> None:
        slices = [_dump(s) for s in self._client.resource_slices.list(field_selector=self._selector).items]
        index = SliceIndex.from_slices(slices, drivers={self._driver}, pool=self._node)
        with self._lock:
            results = [result for claim in self._claims.values() for result in claim]
        usage = usage_from_results(index, results)
        with self._lock:
            self._usage = usage
            self.recomputations += 1
        if self.apply({uuid: entry.score for uuid, entry in usage.items()}):
            with self._lock:
                self.sync_requests += 1
