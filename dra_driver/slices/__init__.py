"""The ResourceSlice builder: turns a node's cards into the slices of its pool, per sharing mode.

Public surface: ``SharingMode``, ``AUTO_FALLBACK``, ``REQUIRED_GATES``, ``SliceOptions``,
``build_slices``, ``first_mode_for_gates``, ``dropped_gates``, ``slice_content``. Pure functions
over typed ``kubernetes.client`` models: this package must never talk to an API server and may
import only ``dra_driver.devices`` and ``dra_driver.kube.features`` of hdra.
"""

from dra_driver.slices.builder import build_slices, slice_name
from dra_driver.slices.compare import dropped_gates, slice_content
from dra_driver.slices.limits import SliceLimits, limits_for
from dra_driver.slices.modes import AUTO_FALLBACK, REQUIRED_GATES, SharingMode, first_mode_for_gates
from dra_driver.slices.options import DEFAULT_OPTIONS, SliceOptions

__all__ = [
    "AUTO_FALLBACK",
    "DEFAULT_OPTIONS",
    "REQUIRED_GATES",
    "SharingMode",
    "SliceLimits",
    "SliceOptions",
    "build_slices",
    "dropped_gates",
    "first_mode_for_gates",
    "limits_for",
    "slice_content",
    "slice_name",
]
