"""The simulator's exceptions.

Owns: ``SimError`` and its three kinds. ``CelError`` is a selector the simulator refuses or cannot
compile; ``AllocationError`` is malformed input (a claim, class or slice that does not have the API
shape) or a claim that cannot be allocated where the caller demanded an allocation;
``AllocatorError`` is what kube-scheduler's allocator itself fails with (same words). Every
message names the object and the field. This module must never import anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SimError(Exception):
    """Base class of everything the simulator raises on purpose."""


class CelError(SimError):
    """A CEL selector was refused (unsupported function or macro) or does not compile."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(f"CEL selector {expression!r}: {message}")
        self.expression = expression
        self.reason = message


class AllocationError(SimError):
    """Bad input (names the object and field), or no allocation where one was required."""


class AllocatorError(SimError):
    """An error the upstream allocator returns (its words first): the scheduler stops trying the pod,
    except for a ``node_local`` one, which only rules out this node."""

    def __init__(self, message: str, *, node_local: bool = False) -> None:
        super().__init__(message)
        self.node_local = node_local


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object (None is empty); anything else is an AllocationError naming ``where``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AllocationError(f"{where} must be an object, not {type(value).__name__} {value!r}"[:300])
    return value


def sequence(value: Any, where: str) -> list[Any]:
    """``value`` as a JSON list (None is empty); anything else is an AllocationError naming ``where``."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise AllocationError(f"{where} must be a list, not {type(value).__name__} {value!r}"[:300])
    return list(value)
