"""Task priority on a shared card: its values in AcceleratorConfig, in HAMi pods and for HAMi-core.

One enum carries all three spellings: the claim parameter (``high``/``low``), HAMi's pod resource
level (``nvidia.com/priority``: 0 high, 1 low; HAMi pkg/device/nvidia) and HAMi-core's
``CUDA_TASK_PRIORITY`` (lower is higher priority: 0 high, 1 low; hami.md §2.6). A "high" task's
kernels hold back "low" ones.
"""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    """Task priority on a shared card: a "high" task's kernels hold back "low" ones."""

    HIGH = "high"
    LOW = "low"

    @property
    def cuda_task_priority(self) -> int:
        """The ``CUDA_TASK_PRIORITY`` value HAMi-core reads."""
        return _LEVELS[self]

    @property
    def hami_level(self) -> int:
        """The value of HAMi's priority pod resource."""
        return _LEVELS[self]

    @classmethod
    def from_hami_level(cls, level: int) -> Priority | None:
        """The priority of HAMi's pod resource value; None for any other value."""
        return next((p for p, value in _LEVELS.items() if value == level), None)


# HAMi and HAMi-core number priorities the same way: 0 is high, 1 is low.
_LEVELS = {Priority.HIGH: 0, Priority.LOW: 1}
