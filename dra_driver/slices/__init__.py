"""The ResourceSlice builder: turns a node's cards into the slices of its pool, per sharing mode.

Public surface: ``SharingMode``, ``AUTO_FALLBACK``, ``REQUIRED_GATES``, ``SliceOptions``,
``build_slices``, ``first_mode_for_gates``, ``dropped_gates``, ``slice_content``, and the
published-pool snapshot ``PublishedPool`` of ``PublishedDevice``. Pure functions
over typed ``kubernetes.client`` models: this package must never talk to an API server and may
import only ``dra_driver.devices``, ``dra_driver.kube`` and ``dra_driver.parameters`` (the Ascend
vNPU template table) of hdra. ``VNPU_TEMPLATE`` is the attribute naming an Ascend template device.
"""

from dra_driver.slices.attributes import whole_card_selector
from dra_driver.slices.builder import build_slices, check_pool_names, slice_name
from dra_driver.slices.compare import dropped_gates, slice_content
from dra_driver.slices.limits import SliceLimits, limits_for
from dra_driver.slices.modes import AUTO_FALLBACK, REQUIRED_GATES, SharingMode, first_mode_for_gates
from dra_driver.slices.options import DEFAULT_OPTIONS, SliceOptions
from dra_driver.slices.pool import EMPTY_POOL, PublishedDevice, PublishedPool
from dra_driver.slices.taints import HEALTH_TAINT_SUFFIX, health_taint
from dra_driver.slices.vnpu import VNPU_TEMPLATE

__all__ = [
    "AUTO_FALLBACK",
    "DEFAULT_OPTIONS",
    "EMPTY_POOL",
    "HEALTH_TAINT_SUFFIX",
    "REQUIRED_GATES",
    "VNPU_TEMPLATE",
    "PublishedDevice",
    "PublishedPool",
    "SharingMode",
    "SliceLimits",
    "SliceOptions",
    "build_slices",
    "check_pool_names",
    "dropped_gates",
    "first_mode_for_gates",
    "health_taint",
    "limits_for",
    "slice_content",
    "slice_name",
    "whole_card_selector",
]
