"""A dict-backed ``ClaimPreparer`` for tests of the kubelet-facing gRPC layer (the layer below's double).

Owns: ``FakePreparer`` (devices per claim UID, exceptions to raise per UID, a record of calls and
an optional ``hook`` run inside every call so tests can block or synchronise calls with events
and barriers) and ``device`` (a ``PreparedDevice`` with one CDI ID). It must never talk gRPC and
never sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from dra_driver.prepare.api import ClaimRef, PreparedDevice, PrepareError

DRIVER = "mock.hdra.io"


def device(name: str, *, request: str = "gpu", pool: str = "node-a", share_id: str = "") -> PreparedDevice:
    return PreparedDevice(
        request_names=(request,),
        pool_name=pool,
        device_name=name,
        cdi_device_ids=(f"hdra.io/mock={name}",),
        share_id=share_id,
    )


def claim(uid: str, name: str | None = None, namespace: str = "default") -> ClaimRef:
    return ClaimRef(uid=uid, namespace=namespace, name=name or f"claim-{uid}")


class FakePreparer:
    """Prepares the claims listed in ``devices``; a claim not listed fails with a PrepareError."""

    def __init__(self, devices: dict[str, tuple[PreparedDevice, ...]] | None = None) -> None:
        self.devices: dict[str, tuple[PreparedDevice, ...]] = dict(devices or {})
        self.errors: dict[str, Exception] = {}
        self.prepared: dict[str, ClaimRef] = {}
        self.calls: list[tuple[str, ClaimRef]] = []
        self.hook: Callable[[str, ClaimRef], None] | None = None
        self._lock = threading.Lock()

    def prepare(self, claim: ClaimRef) -> tuple[PreparedDevice, ...]:
        self._enter("prepare", claim)
        with self._lock:
            if claim.uid not in self.devices:
                raise PrepareError(f"claim {claim} is not allocated to a device of {DRIVER} on this node")
            self.prepared[claim.uid] = claim
            return self.devices[claim.uid]

    def unprepare(self, claim: ClaimRef) -> None:
        self._enter("unprepare", claim)
        with self._lock:
            self.prepared.pop(claim.uid, None)

    def _enter(self, action: str, claim: ClaimRef) -> None:
        with self._lock:
            self.calls.append((action, claim))
            error = self.errors.get(claim.uid)
        if self.hook is not None:
            self.hook(action, claim)
        if error is not None:
            raise error
