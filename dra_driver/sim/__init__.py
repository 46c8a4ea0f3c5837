"""hdra's structured allocator in Python: what kube-scheduler would allocate from hdra's slices.

Public surface: ``ClusterState`` (slices, classes, namespace labels, allocated claims) with
``place_pod``/``commit``; ``Placement``/``Pending``/``ClaimAllocation``; ``allocate_claim`` (one claim
on one node); ``explain_claim``/``render_explanation``; ``reserve``; ``default_device_classes``;
``Policy``; ``CelError``/``AllocationError``. Works on plain dicts in API shape. It may import
``dra_driver.slices``, ``devices``, ``kube`` and ``parameters`` only, and never talks to an API server.
"""

from dra_driver.sim.errors import AllocationError, CelError, SimError
from dra_driver.sim.explain import Explanation, explain_claim
from dra_driver.sim.placement import ClaimAllocation, Pending, Placement
from dra_driver.sim.policy import CardUse, Policy
from dra_driver.sim.render import render_explanation
from dra_driver.sim.requests import default_device_classes
from dra_driver.sim.results import reserve
from dra_driver.sim.scheduler import ClusterState, allocate_claim, place_pod, seeded_uuids

__all__ = [
    "AllocationError",
    "CardUse",
    "CelError",
    "ClaimAllocation",
    "ClusterState",
    "Explanation",
    "Pending",
    "Placement",
    "Policy",
    "SimError",
    "allocate_claim",
    "default_device_classes",
    "explain_claim",
    "place_pod",
    "render_explanation",
    "reserve",
    "seeded_uuids",
]
