"""``AcceleratorConfig``: the opaque parameters of a claim (DESIGN §6), as a strict pydantic model.

Owns: ``API_VERSION``, ``KIND``, the enums and the model. JSON names are camelCase (aliases);
Python names are snake_case and are never accepted as input. Decoding is strict: unknown fields
and wrong JSON types are errors (no ``"1"`` → 1, no ``true`` → 1). ``model_dump(by_alias=True)``
is the canonical object: defaults filled in, absent optional fields left out.

The values are chosen to be passed through unchanged where HAMi-core reads them (hami.md §2.2):
``corePolicy`` is ``GPU_CORE_UTILIZATION_POLICY``, ``logLevel`` is ``LIBCUDA_LOG_LEVEL``, and
``priority`` maps to ``CUDA_TASK_PRIORITY`` through ``Priority.cuda_task_priority``.
It must never decode raw bytes, check the driver or enforce anything; ``decode.py`` does the
first two, interception the last.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from dra_driver.rules import Priority

from .vendors import VENDOR_SECTIONS, AscendExtras

API_VERSION: Final = "hdra.io/v1alpha1"
KIND: Final = "AcceleratorConfig"


class CorePolicy(StrEnum):
    """When the cores limit throttles: "default" only while another task shares the card, "force"
    always, "disable" never (HAMi-core GPU_CORE_UTILIZATION_POLICY)."""

    DEFAULT = "default"
    FORCE = "force"
    DISABLE = "disable"


class Enforcement(StrEnum):
    """ "auto": enforce the allocated limits with the vendor's mechanism; "none": no interception
    (the container sees whole cards and is trusted to stay within its share)."""

    AUTO = "auto"
    NONE = "none"


def _plain(value: Any) -> Any:
    """``value`` with every enum member (also inside vendor sections) replaced by its value."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _require_type_fields(schema: dict[str, Any]) -> None:
    """JSON schema hook: opaque parameters must name their apiVersion and kind (``decode_config``
    insists), even though the Python model fills them in."""
    schema["required"] = ["apiVersion", "kind"]


class AcceleratorConfig(BaseModel):
    """What a claim may say about its devices beyond what the scheduler accounts for."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title=KIND,
        json_schema_extra=_require_type_fields,
    )

    api_version: Literal["hdra.io/v1alpha1"] = Field(
        API_VERSION, alias="apiVersion", title="API version", description="Always hdra.io/v1alpha1."
    )
    kind: Literal["AcceleratorConfig"] = Field(KIND, title="Kind", description="Always AcceleratorConfig.")
    core_policy: CorePolicy = Field(
        CorePolicy.DEFAULT,
        alias="corePolicy",
        title="Core policy",
        description="When the cores limit throttles (HAMi-core GPU_CORE_UTILIZATION_POLICY).",
    )
    priority: Priority | None = Field(
        None,
        title="Priority",
        description="Task priority on a shared card (CUDA_TASK_PRIORITY); absent: the runtime's default.",
    )
    enforcement: Enforcement = Field(
        Enforcement.AUTO,
        title="Enforcement",
        description="auto: enforce the allocated limits; none: no interception.",
    )
    log_level: Annotated[int, Field(ge=0, le=4)] | None = Field(
        None,
        alias="logLevel",
        title="Log level",
        description="Interception library verbosity, 0 errors to 4 debug (LIBCUDA_LOG_LEVEL).",
    )
    ascend: AscendExtras | None = Field(
        None, title="Ascend extras", description="Settings that only ascend.hdra.io accepts."
    )

    @model_serializer(mode="wrap")
    def _canonical(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Canonical form: plain JSON values (enum members become their strings, so YAML and JSON
        dumpers see ``str``), and optional fields that are not set are left out, not written as null."""
        dumped: dict[str, Any] = handler(self)
        return {key: _plain(value) for key, value in dumped.items() if value is not None}

    def vendor_sections(self) -> tuple[str, ...]:
        """The vendor section fields that are set, in ``VENDOR_SECTIONS`` order."""
        return tuple(name for name in VENDOR_SECTIONS if getattr(self, name) is not None)


DEFAULT_CONFIG: Final = AcceleratorConfig()
"""The config of a request that no opaque config names."""
