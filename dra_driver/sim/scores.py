"""How kube-scheduler scores the feasible nodes of a pod, as far as hdra can know (DESIGN §8).

Owns: ``prioritized_list_score`` (the DynamicResources plugin's score), ``normalize`` and
``total_scores`` (what the simulator compares to choose a node and to find the nodes that tie).
Followed from upstream kubernetes v1.36.3:

* ``pkg/scheduler/schedule_one.go`` ``prioritizeNodes``: an extender's 0..``MaxExtenderPriority``
  (10) score is multiplied by its weight and by ``MaxNodeScore / MaxExtenderPriority`` (100 / 10);
  hdra's extender is configured with weight 1 (charts/hdra/README.md, ``EXTENDER_WEIGHT``).
  ``nodeScoreHeap.Less`` orders nodes by ``TotalScore`` and, among equal totals, by a
  ``Randomizer`` drawn with ``rand.Int()`` for every node: which of the top nodes is taken is left
  to chance (without extenders it stays 0 and the order of the parallel Filter results decides).
* ``pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go`` ``Score`` /
  ``computeScore``: for every request of the pod's claims with ``firstAvailable``, the allocated
  sub-request at index ``i`` adds ``FirstAvailableDeviceRequestMaxSize - i`` (8, k8s.io/api
  ``resource/v1/types.go``); ``NormalizeScore`` is ``DefaultNormalizeScore(100, false)``:
  ``100 * score / max`` in integers, scores untouched when the maximum is 0; the plugin's weight
  is 2 (``pkg/scheduler/apis/config/v1/default_plugins.go``).
* The other default score plugins (NodeResourcesFit, NodeResourcesBalancedAllocation,
  ImageLocality, TaintToleration, NodeAffinity, PodTopologySpread, InterPodAffinity) score CPU and
  memory requests, images, taints and affinities, which hdra does not see: they are taken to be
  equal on every node (DESIGN §8 says when that holds).

This module must never allocate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dra_driver.sim.placement import ClaimAllocation

EXTENDER_WEIGHT = 1
"""The weight of hdra's extender entry in the KubeSchedulerConfiguration (charts/hdra/README.md)."""
EXTENDER_SCALE = 10
"""``MaxNodeScore / MaxExtenderPriority`` = 100 / 10 (k8s.io/kube-scheduler framework and extender/v1)."""
MAX_NODE_SCORE = 100
"""``MaxNodeScore`` of k8s.io/kube-scheduler/framework/interface.go."""
DYNAMIC_RESOURCES_WEIGHT = 2
"""The DynamicResources score plugin's weight (pkg/scheduler/apis/config/v1/default_plugins.go)."""
FIRST_AVAILABLE_MAX = 8
"""``FirstAvailableDeviceRequestMaxSize`` (k8s.io/api resource/v1 types.go)."""


def prioritized_list_score(allocations: Iterable[ClaimAllocation]) -> int:
    """DynamicResources ``computeScore`` of a pod on one node: its claims with their allocations there."""
    score = 0
    for allocation in allocations:
        results = (allocation.allocation.get("devices") or {}).get("results") or ()
        allocated = {str(r.get("request")) for r in results if "/" in str(r.get("request"))}
        requests = ((allocation.claim.get("spec") or {}).get("devices") or {}).get("requests") or ()
        for request in requests:
            for index, sub in enumerate(request.get("firstAvailable") or ()):
                if f"{request.get('name')}/{sub.get('name')}" in allocated:
                    score += FIRST_AVAILABLE_MAX - index
    return score


def normalize(scores: Mapping[str, int]) -> dict[str, int]:
    """``DefaultNormalizeScore(MaxNodeScore, reverse=false)``: scaled so the best is 100 (Go integers)."""
    best = max(scores.values(), default=0)
    if best == 0:
        return dict(scores)
    return {node: MAX_NODE_SCORE * score // best for node, score in scores.items()}


def total_scores(extender: Mapping[str, int], prioritized: Mapping[str, int]) -> dict[str, int]:
    """Per node of ``prioritized`` (the feasible nodes): the part of ``TotalScore`` hdra models.

    ``extender`` holds the extender's 0..10 answer per node (missing: no extender, 0).
    """
    dynamic = normalize(prioritized)
    return {
        node: DYNAMIC_RESOURCES_WEIGHT * dynamic[node]
        + EXTENDER_WEIGHT * EXTENDER_SCALE * extender.get(node, 0)
        for node in prioritized
    }
