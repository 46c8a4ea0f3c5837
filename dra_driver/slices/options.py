"""The knobs of the slice builder: target Kubernetes release and how finely cards are split.

Owns: ``SliceOptions`` and its validation. It must never build slices or read devices; it only
guarantees that whatever reaches the builder is within the ranges the builder can publish.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dra_driver.kube.features import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    FeatureGate,
    KubeVersion,
    default_feature_gates,
)

MAX_SPLIT = 64
"""The finest split of one card: 64 shares/replicas/partitions of a fraction (cores stay >= 1 %)."""


class SliceOptions(BaseModel):
    """How ``build_slices`` shapes its output.

    ``shares``: the ``shares`` capacity of a card in capacity mode (each allocation consumes one).
    ``partition_fractions``: partition profiles 1/f of a card, each f a distinct power of two in
    2..64, ascending. ``replicas``: how many equal devices a card becomes in replicas mode.
    ``health_taint_effect``: the effect of the ``<driver>/unhealthy`` taint on an unhealthy card.
    ``taints_enabled``: whether slices may carry device taints (gate DRADeviceTaints); ``None``
    follows the gate's default on ``kube_version`` (on from 1.36, alpha and off before).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kube_version: KubeVersion = DEFAULT_VERSION
    shares: Annotated[int, Field(ge=2, le=MAX_SPLIT)] = 10
    partition_fractions: tuple[int, ...] = (2, 4, 8)
    replicas: Annotated[int, Field(ge=2, le=MAX_SPLIT)] = 4
    health_taint_effect: Literal["NoSchedule", "NoExecute"] = "NoSchedule"
    taints_enabled: bool | None = None

    @property
    def publish_taints(self) -> bool:
        """Whether health taints go into the slices (the explicit choice, else the gate default)."""
        if self.taints_enabled is not None:
            return self.taints_enabled
        return default_feature_gates(self.kube_version)[FeatureGate.DRA_DEVICE_TAINTS]

    @field_validator("kube_version")
    @classmethod
    def _check_version(cls, value: KubeVersion) -> KubeVersion:
        if value not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise ValueError(f"kube_version {value} is not supported: hdra supports {supported}")
        return value

    @field_validator("partition_fractions")
    @classmethod
    def _check_fractions(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("partition_fractions must name at least one fraction")
        for fraction in value:
            if fraction < 2 or fraction > MAX_SPLIT or fraction & (fraction - 1):
                raise ValueError(
                    f"partition fraction {fraction} is not a power of two between 2 and {MAX_SPLIT}"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"partition_fractions {list(value)} contain duplicates")
        if list(value) != sorted(value):
            raise ValueError(f"partition_fractions {list(value)} must be in ascending order")
        return value


DEFAULT_OPTIONS = SliceOptions()
