"""What the fake kubelet makes of a DRA plugin's answer: result types and the kubelet's checks.

Owns: the plain result dataclasses the fake kubelet returns and the checks the kubelet applies to
``NodePrepareResources`` / ``NodeUnprepareResources`` answers (k/k ``pkg/kubelet/cm/dra/manager.go``;
reference dra-api.md section 4): every requested claim UID has an entry, no entry for a claim that
was not requested, and every device of a successful claim names its pool and device and carries
at least one CDI device ID (hdra always hands out CDI IDs, so an empty list is a bug here). Every
violation raises ``KubeletCheckError`` naming the driver, the method, the claim and the field. It
must never talk gRPC.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dra_driver.prepare.api import ClaimRef


class KubeletCheckError(Exception):
    """The kubelet would refuse this plugin answer (or could not get one); the message says why."""


@dataclass(frozen=True)
class KubeletDevice:
    """One device of a prepared claim, as the kubelet stores it."""

    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]
    share_id: str | None = None  # None: not sent (always None over v1beta1)


@dataclass(frozen=True)
class ClaimPrepareResult:
    """The plugin's answer for one claim: devices, or a non-empty error (devices are then ignored)."""

    devices: tuple[KubeletDevice, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class ClaimUnprepareResult:
    """The plugin's answer for one claim: a non-empty error when unpreparing it failed."""

    error: str = ""


def check_claim_keys(
    driver: str, method: str, requested: Sequence[ClaimRef], answered: Collection[str]
) -> None:
    """The kubelet's rule: one entry per requested claim UID and nothing else."""
    requested_uids = {claim.uid for claim in requested}
    unknown = sorted(uid for uid in answered if uid not in requested_uids)
    if unknown:
        raise KubeletCheckError(
            f"{method} of DRA driver {driver} answered for claim UID(s) {unknown} that were not requested"
        )
    missing = [str(claim) for claim in requested if claim.uid not in answered]
    if missing:
        raise KubeletCheckError(
            f"{method} of DRA driver {driver} skipped {len(missing)} claim(s): {', '.join(missing)}"
        )


def check_devices(driver: str, claim: ClaimRef, devices: Sequence[KubeletDevice]) -> None:
    """Every device of a successfully prepared claim must be usable by the kubelet."""
    for index, device in enumerate(devices):
        where = f"NodePrepareResources of DRA driver {driver}, claim {claim}, device #{index}"
        if not device.pool_name:
            raise KubeletCheckError(f"{where} (device_name {device.device_name!r}) has an empty pool_name")
        if not device.device_name:
            raise KubeletCheckError(f"{where} (pool_name {device.pool_name!r}) has an empty device_name")
        if not device.cdi_device_ids:
            raise KubeletCheckError(
                f"{where} ({device.pool_name}/{device.device_name}) has no cdi_device_ids: "
                "the container runtime would get no device edits"
            )
        blank = [name for name in device.request_names if not name]
        if blank:
            raise KubeletCheckError(
                f"{where} ({device.pool_name}/{device.device_name}) has an empty entry in request_names"
            )
