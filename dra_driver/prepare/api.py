"""The contract between the kubelet-facing gRPC layer and the code that prepares claims.

Owns: ``ClaimRef`` (what the kubelet names), ``PreparedDevice`` (what the kubelet gets back for
one allocated device), ``PrepareError`` and the ``ClaimPreparer`` protocol. The gRPC layer
(``dra_driver.plugin``) turns requests into calls of a ``ClaimPreparer``, runs different claims
concurrently, and puts each claim's result or error into the answer map. A ``ClaimPreparer`` must
be idempotent, must serialise calls for one claim UID itself, and must never talk gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ClaimRef:
    """A ResourceClaim as the kubelet names it in NodePrepareResources / NodeUnprepareResources."""

    uid: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name} (uid {self.uid})"


@dataclass(frozen=True)
class PreparedDevice:
    """One allocated device, as returned to the kubelet.

    ``request_names`` holds the *parent* request name only (``gpu`` for ``gpu/a100``), as the
    kubelet matches it against the pod's container claims. ``share_id`` is set for devices that
    allow multiple allocations, empty otherwise.
    """

    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]
    share_id: str = ""


class PrepareError(Exception):
    """Preparing or unpreparing one claim failed; the message names the cause and goes to the kubelet."""


@dataclass(frozen=True)
class PrepareResult:
    """The outcome for one claim: devices, or an error message (never both)."""

    devices: tuple[PreparedDevice, ...] = field(default_factory=tuple)
    error: str = ""


class ClaimPreparer(Protocol):
    """Prepares and unprepares claims for one driver on one node.

    ``prepare`` returns the prepared devices or raises ``PrepareError``; calling it again for a
    prepared claim returns the same devices without redoing work. ``unprepare`` of an unknown or
    already unprepared claim succeeds. Both may be called concurrently from any thread, also for
    the same claim: the preparer serialises calls per claim UID (``NodePreparer`` with the same lock
    its recovery and cleanup take).
    """

    def prepare(self, claim: ClaimRef) -> tuple[PreparedDevice, ...]: ...

    def unprepare(self, claim: ClaimRef) -> None: ...
