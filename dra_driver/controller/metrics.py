"""``hdra controller``'s Prometheus metrics: cluster-wide allocation per card and per claim.

Owns: ``ClusterAllocation`` (slices and claims turned into per-card and per-claim usage with
``usage.py``), ``list_allocation`` (one listing, for ``hdra top``) and ``ClusterCollector``, which
computes it at scrape time from the objects ``ClusterUsage``'s two watches hold (the controller's
one view of the cluster, DESIGN §8): a scrape makes no API call. Metric names are HAMi-DRA's
monitor names (hami.md §1.7/§3.2) so existing dashboards work; cores are in the published unit
(percent of a card, 100 = whole card), as HAMi reports them:

* per card (labels ``node``, ``deviceuuid``, ``driver``, ``pool``): ``hami_dra_gpu_memory_limit_bytes``,
  ``hami_dra_gpu_core_limit_ratio``, ``hami_dra_gpu_memory_allocated_bytes``,
  ``hami_dra_gpu_core_allocated_ratio``, and ``hdra_card_allocations`` (no HAMi equivalent);
* per claim and card (labels ``namespace``, ``claim``, ``node``, ``deviceuuid``):
  ``hami_dra_vgpu_memory_allocated_bytes``, ``hami_dra_vgpu_core_allocated_ratio``;
* ``hdra_controller_cluster_up``: 1 when the watches hold a listed view of slices and claims,
  else 0 (before the first list, or while a failed watch re-lists; then no other series is emitted
  rather than stale ones).

It must never write to the API and never use prometheus-client's global registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dra_driver.controller.cluster_usage import hdra_drivers
from dra_driver.kube import KubeClient
from dra_driver.slices.usage import (
    CardUsage,
    JsonDict,
    SliceIndex,
    allocation_results,
    usage_from_results,
)

log = logging.getLogger("hdra.controller")


@dataclass(frozen=True)
class ClaimCardUsage:
    """What one claim holds on one card."""

    namespace: str
    name: str
    usage: CardUsage


@dataclass(frozen=True)
class ClusterAllocation:
    cards: dict[str, CardUsage]
    claims: list[ClaimCardUsage]


def allocation(
    slices: list[JsonDict], claims: list[JsonDict], drivers: Collection[str] | None = None
) -> ClusterAllocation:
    """Per-card and per-claim usage of ``drivers`` (None: every ``*.hdra.io`` driver)."""
    chosen = set(drivers) if drivers is not None else hdra_drivers(slices)
    index = SliceIndex.from_slices(slices, drivers=chosen)
    per_claim: list[ClaimCardUsage] = []
    all_results: list[JsonDict] = []
    for claim in claims:
        results = allocation_results(claim, drivers=chosen)
        if not results:
            continue
        all_results.extend(results)
        meta = claim.get("metadata") or {}
        for usage in usage_from_results(index, results).values():
            if usage.allocations:
                per_claim.append(
                    ClaimCardUsage(str(meta.get("namespace", "")), str(meta.get("name", "")), usage)
                )
    per_claim.sort(key=lambda c: (c.usage.card.node or "", c.usage.card.uuid, c.namespace, c.name))
    return ClusterAllocation(cards=usage_from_results(index, all_results), claims=per_claim)


def list_allocation(client: KubeClient, drivers: Collection[str] | None = None) -> ClusterAllocation:
    """List slices and claims from the API server once (``hdra top``); ``KubeError``/``ValueError``
    when that fails."""
    slices = [_dump(s) for s in client.resource_slices.list().items]
    claims = [_dump(c) for c in client.resource_claims.list(None).items]
    return allocation(slices, claims, drivers)


def _dump(obj: Any) -> JsonDict:
    dumped: JsonDict = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


ClusterObjects = Callable[[], tuple[list[JsonDict], list[JsonDict]] | None]
"""(slices, claims) of the cluster, or None while they are not known (``ClusterUsage.objects``)."""


class ClusterCollector(Collector):
    """Reports allocation under HAMi-DRA's names from the watched objects, computed per scrape."""

    def __init__(self, objects: ClusterObjects, drivers: Collection[str] | None = None) -> None:
        self._objects = objects
        self._drivers = frozenset(drivers) if drivers is not None else None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "hdra_controller_cluster_up", "1 when the watches hold a listed view of slices and claims"
        )
        known = self._objects()
        state = None
        if known is not None:
            try:
                state = allocation(*known, self._drivers)
            except ValueError as exc:
                log.warning("metrics: cannot compute allocation from the watched objects: %s", exc)
        up.add_metric([], 0 if state is None else 1)
        yield up
        if state is not None:
            yield from _card_families(state.cards)
            yield from _claim_families(state.claims)


def _card_families(cards: dict[str, CardUsage]) -> Iterator[Metric]:
    labels = ["node", "deviceuuid", "driver", "pool"]
    families = (
        GaugeMetricFamily("hami_dra_gpu_memory_limit_bytes", "Card memory", labels=labels),
        GaugeMetricFamily("hami_dra_gpu_core_limit_ratio", "Card cores (100 = whole card)", labels=labels),
        GaugeMetricFamily(
            "hami_dra_gpu_memory_allocated_bytes", "Memory allocated on the card", labels=labels
        ),
        GaugeMetricFamily("hami_dra_gpu_core_allocated_ratio", "Cores allocated on the card", labels=labels),
        GaugeMetricFamily("hdra_card_allocations", "Allocation results on the card", labels=labels),
    )
    for uuid in sorted(cards):
        usage = cards[uuid]
        card = usage.card
        key = [card.node or "", uuid, card.driver, card.pool]
        values = (card.memory_bytes, card.cores, usage.memory_bytes, usage.cores, usage.allocations)
        for family, value in zip(families, values, strict=True):
            family.add_metric(key, value)
    yield from families


def _claim_families(claims: list[ClaimCardUsage]) -> Iterator[Metric]:
    labels = ["namespace", "claim", "node", "deviceuuid"]
    memory = GaugeMetricFamily(
        "hami_dra_vgpu_memory_allocated_bytes", "Memory the claim holds on the card", labels=labels
    )
    cores = GaugeMetricFamily(
        "hami_dra_vgpu_core_allocated_ratio", "Cores the claim holds on the card", labels=labels
    )
    for claim in claims:
        key = [claim.namespace, claim.name, claim.usage.card.node or "", claim.usage.card.uuid]
        memory.add_metric(key, claim.usage.memory_bytes)
        cores.add_metric(key, claim.usage.cores)
    yield from (memory, cores)


def controller_registry(objects: ClusterObjects, drivers: Collection[str] | None = None) -> CollectorRegistry:
    """A fresh registry with the cluster collector (served at ``/metrics`` by the extender server)."""
    registry = CollectorRegistry()
    registry.register(ClusterCollector(objects, drivers))
    return registry
