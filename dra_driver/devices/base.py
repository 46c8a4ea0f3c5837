"""The backend interface: what a vendor backend discovers and how a device is described.

Owns: ``AcceleratorDevice`` (one physical card, vendor-neutral), ``Version`` (a semver attribute
value), ``DeviceBackend`` (the protocol every vendor implements) and the errors backends raise.
It must never know about ResourceSlices, sharing modes or the API server: turning devices into
slices is ``dra_driver.slices``' job.
"""

from __future__ import annotations

import re
from typing import Annotated, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Semantic Versioning 2.0.0, as the API server checks `version` attributes.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


class BackendError(Exception):
    """A backend could not discover devices; the message names the cause."""


class BackendUnavailable(BackendError):
    """The vendor library or tool is absent on this node (e.g. no NVIDIA driver)."""


class Version(BaseModel):
    """A ``version`` attribute value; always valid Semantic Versioning 2.0.0."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    semver: str

    @field_validator("semver")
    @classmethod
    def _check_semver(cls, value: str) -> str:
        if len(value) > 64 or _SEMVER.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        return value


AttributeValue = bool | int | str | Version
"""An attribute value as the API knows them: ``bool``, ``int``, ``string`` or ``version``."""


class AcceleratorDevice(BaseModel):
    """One physical accelerator on this node, as discovered.

    ``name`` is the device name in the ResourceSlice (a DNS label, unique on the node, stable
    across restarts: ``gpu-0`` for index 0). ``extra_attributes`` holds vendor-specific attributes
    (e.g. NVIDIA's ``cudaComputeCapability``); its keys are C identifiers in the driver's domain.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    index: Annotated[int, Field(ge=0)]
    uuid: Annotated[str, Field(min_length=1, max_length=64)]
    vendor: Annotated[str, Field(min_length=1, max_length=64)]
    device_type: Annotated[str, Field(min_length=1, max_length=64)]
    product_name: Annotated[str, Field(min_length=1, max_length=64)]
    architecture: Annotated[str, Field(max_length=64)] = ""
    memory_bytes: Annotated[int, Field(gt=0)]
    driver_version: Version | None = None
    pci_bus_id: str | None = None
    pcie_root: str | None = None
    extra_attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    healthy: bool = True
    health_message: str = ""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if _DNS_LABEL.fullmatch(value) is None:
            raise ValueError(f"device name {value!r} is not a DNS label")
        return value

    @field_validator("extra_attributes")
    @classmethod
    def _check_attribute_names(cls, value: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
        for key, item in value.items():
            if _IDENTIFIER.fullmatch(key) is None:
                raise ValueError(f"attribute name {key!r} is not a C identifier of at most 32 characters")
            if isinstance(item, str) and len(item) > 64:
                raise ValueError(f"attribute {key!r} is longer than 64 characters")
        return value

    @property
    def memory_mib(self) -> int:
        return self.memory_bytes // (1024 * 1024)


@runtime_checkable
class DeviceBackend(Protocol):
    """What every vendor backend provides to the node plugin.

    ``discover`` returns the node's devices sorted by index. It raises ``BackendUnavailable`` when
    the vendor's library or tool is missing and ``BackendError`` for anything else, always with a
    message that names the cause; it never returns partial results silently.
    """

    @property
    def vendor(self) -> str: ...

    def discover(self) -> list[AcceleratorDevice]: ...
