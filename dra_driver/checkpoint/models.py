"""The node plugin's checkpoint as pydantic models: which claims are prepared and what that created.

Owns: ``ClaimState``, ``CheckpointDevice``, ``CheckpointUnits``, ``CheckpointEntry``, ``CheckpointFile``,
``CHECKPOINT_VERSION`` and ``claims_checksum``. An entry records the claim (uid, namespace, name),
how far prepare got, the devices returned to the kubelet and every absolute path prepare created
(``artifacts``: CDI spec file, cache dir, vendor files), so that a rollback or an unprepare
removes exactly those, and the node-unique units it holds (``units``). It must never read or
write files (``store.py`` does).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dra_driver.cdi import CdiError, validate_claim_uid

CHECKPOINT_VERSION = 1

_CONFIG = ConfigDict(frozen=True, extra="forbid")


class ClaimState(StrEnum):
    """How far prepare got: an entry left ``PrepareStarted`` after a crash is rolled back and redone."""

    PREPARE_STARTED = "PrepareStarted"
    PREPARE_COMPLETED = "PrepareCompleted"


class CheckpointDevice(BaseModel):
    """One device as returned to the kubelet (mirrors ``dra_driver.prepare.api.PreparedDevice``)."""

    model_config = _CONFIG

    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]
    share_id: str = ""


class CheckpointUnits(BaseModel):
    """Node-unique hardware units a claim holds on one card (mirrors ``interception.UnitGrant``).

    ``compute_units`` are AMD/Hygon CU ids, ``vdev_id``/``pipe_id`` a Hygon vDCU's ids; ``held``
    False marks a best-effort mask that holds nothing. The node plugin rebuilds what is taken on
    the node from these after a restart, and frees them by removing the entry.
    """

    model_config = _CONFIG

    device: str
    compute_units: tuple[Annotated[int, Field(ge=0)], ...] = ()
    vdev_id: Annotated[int, Field(ge=0)] | None = None
    pipe_id: Annotated[int, Field(ge=0)] | None = None
    held: bool = True


class CheckpointEntry(BaseModel):
    """One claim the node plugin has started or finished preparing."""

    model_config = _CONFIG

    uid: str
    namespace: str
    name: str
    state: ClaimState
    devices: tuple[CheckpointDevice, ...] = ()
    artifacts: tuple[str, ...] = ()
    units: tuple[CheckpointUnits, ...] = ()

    @field_validator("uid")
    @classmethod
    def _check_uid(cls, value: str) -> str:
        try:
            return validate_claim_uid(value)
        except CdiError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("artifacts")
    @classmethod
    def _check_artifacts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"artifact path {path!r} is not absolute")
        return value


class CheckpointFile(BaseModel):
    """The whole file: format version, the boot it was written in, checksum and the claims by UID."""

    model_config = _CONFIG

    version: Literal[1]
    boot_id: str
    checksum: str
    claims: dict[str, CheckpointEntry]

    @model_validator(mode="after")
    def _check_keys(self) -> CheckpointFile:
        for key, entry in self.claims.items():
            if key != entry.uid:
                raise ValueError(f"claim entry under key {key!r} has uid {entry.uid!r}")
        return self


def claims_json(claims: Mapping[str, CheckpointEntry]) -> dict[str, Any]:
    """The claims as plain JSON values, the form that is written and checksummed."""
    return {uid: entry.model_dump(mode="json") for uid, entry in claims.items()}


def claims_checksum(claims: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON (sorted keys, no spaces) of plain-JSON claims."""
    return checksum_of(canonical_json(claims))


def canonical_json(claims: Mapping[str, Any]) -> str:
    """The canonical JSON text of plain-JSON claims: sorted keys, no spaces, ASCII only."""
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def checksum_of(canonical: str) -> str:
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
