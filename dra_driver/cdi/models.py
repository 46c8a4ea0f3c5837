"""CDI spec documents as pydantic models, validated the way the CDI library validates them.

Owns: ``CdiSpec``, ``CdiDevice``, ``ContainerEdits``, ``DeviceNode``, ``Mount``, ``Hook`` and
``NetDevice`` (cdi ``specs-go/config.go``; JSON field names as in the spec) and their JSON encoding.
A device with empty edits, a bad env entry, a relative hook path or two devices with one name
are rejected at construction with a message naming the field. Which ``cdiVersion`` the fields
need is ``dra_driver.cdi.version``'s job; this module must never touch files.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from dra_driver.cdi.names import parse_kind, validate_device_name

HookName = Literal["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
DeviceType = Literal["b", "c", "u", "p"]

# JSON keys are camelCase (``hostPath``); Python code uses snake_case names. The alias generator
# (invisible to mypy's pydantic plugin) keeps constructor keywords snake_case while files use camelCase.
_MODEL_CONFIG = ConfigDict(
    frozen=True, extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
)


def _check_env(entries: tuple[str, ...], where: str) -> tuple[str, ...]:
    # cdi ValidateEnv: every entry is KEY=VALUE with a non-empty key.
    for entry in entries:
        if entry.find("=") <= 0:
            raise ValueError(f"{where} entry {entry!r} is not KEY=VALUE")
    return entries


class DeviceNode(BaseModel):
    """A device node to create in the container (``hostPath`` needs cdiVersion 0.5.0)."""

    model_config = _MODEL_CONFIG

    path: Annotated[str, Field(min_length=1)]
    host_path: str | None = None
    type: DeviceType | None = None
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    permissions: str | None = None
    uid: Annotated[int, Field(ge=0)] | None = None
    gid: Annotated[int, Field(ge=0)] | None = None

    @field_validator("permissions")
    @classmethod
    def _check_permissions(cls, value: str | None) -> str | None:
        if value is not None and value != "none" and (not value or set(value) - set("rwm")):
            raise ValueError(f"device node permissions {value!r} must be a subset of 'rwm' or 'none'")
        return value


class Mount(BaseModel):
    """A mount into the container (``type`` needs cdiVersion 0.4.0)."""

    model_config = _MODEL_CONFIG

    host_path: Annotated[str, Field(min_length=1)]
    container_path: Annotated[str, Field(min_length=1)]
    options: tuple[str, ...] = ()
    type: str | None = None


class Hook(BaseModel):
    """An OCI hook to run at one point of the container's life."""

    model_config = _MODEL_CONFIG

    hook_name: HookName
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: Annotated[int, Field(gt=0)] | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"hook path {value!r} is not absolute")
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_env(value, "hook env")


class NetDevice(BaseModel):
    """A host network interface moved into the container (cdiVersion 1.1.0)."""

    model_config = _MODEL_CONFIG

    host_interface_name: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]


class ContainerEdits(BaseModel):
    """What applying a device (or a whole spec) changes in the container's OCI spec."""

    model_config = _MODEL_CONFIG

    env: tuple[str, ...] = ()
    device_nodes: tuple[DeviceNode, ...] = ()
    mounts: tuple[Mount, ...] = ()
    hooks: tuple[Hook, ...] = ()
    additional_gids: tuple[Annotated[int, Field(ge=0, lt=2**32)], ...] = ()
    net_devices: tuple[NetDevice, ...] = ()

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_env(value, "env")

    def is_empty(self) -> bool:
        """True when applying these edits would change nothing (invalid for a device)."""
        return not (
            self.env
            or self.device_nodes
            or self.mounts
            or self.hooks
            or self.additional_gids
            or self.net_devices
        )

    def merged(self, other: ContainerEdits) -> ContainerEdits:
        """These edits followed by ``other``'s (env entries of ``other`` win for equal keys at runtime)."""
        return ContainerEdits(
            env=self.env + other.env,
            device_nodes=self.device_nodes + other.device_nodes,
            mounts=self.mounts + other.mounts,
            hooks=self.hooks + other.hooks,
            additional_gids=self.additional_gids + other.additional_gids,
            net_devices=self.net_devices + other.net_devices,
        )


class CdiDevice(BaseModel):
    """One device of a spec; its edits must not be empty (the CDI library drops such devices)."""

    model_config = _MODEL_CONFIG

    name: str
    annotations: dict[str, str] = Field(default_factory=dict)
    container_edits: ContainerEdits

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return validate_device_name(value)

    @model_validator(mode="after")
    def _check_edits(self) -> CdiDevice:
        if self.container_edits.is_empty():
            raise ValueError(f"CDI device {self.name!r} has no container edits")
        return self


class CdiSpec(BaseModel):
    """A whole CDI spec file: version, kind, devices and optional spec-wide edits."""

    model_config = _MODEL_CONFIG

    cdi_version: str
    kind: str
    annotations: dict[str, str] = Field(default_factory=dict)
    devices: Annotated[tuple[CdiDevice, ...], Field(min_length=1)]
    container_edits: ContainerEdits = Field(default_factory=ContainerEdits)

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        parse_kind(value)
        return value

    @model_validator(mode="after")
    def _check_unique_names(self) -> CdiSpec:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"CDI spec of kind {self.kind!r} defines device {device.name!r} twice")
            seen.add(device.name)
        return self

    def device_names(self) -> tuple[str, ...]:
        return tuple(device.name for device in self.devices)

    def to_json(self) -> str:
        """The spec as the runtime reads it: camelCase keys, empty and unset fields left out."""
        # cdiVersion, kind and devices are required; each device's containerEdits is required too.
        # Compact, straight from pydantic-core's serializer (no Python dict and json.dumps pass on
        # the prepare path); UTF-8, as the runtimes' JSON and YAML readers take it.
        return self.model_dump_json(by_alias=True, exclude_defaults=True) + "\n"
