"""Kubernetes feature gates that change what the structured allocator does, per Kubernetes version.

Owns: ``FeatureGates`` (the enabled DRA gates of one simulated cluster), ``KUBE_VERSIONS``, the
defaults of each version, ``--feature-gates`` parsing, and the mapping from gates to what the
allocator does. Defaults, lock-to-default and dependencies come from the versioned specs in
k8s.io/kubernetes ``pkg/features/kube_features.go`` (v1.36.3); the gate -> allocator feature mapping
is kube-scheduler's ``AllocatorFeatures`` and its CEL cache features
(``pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go``):

* ``admin_access``, ``prioritized_list``, ``partitionable_devices``, ``device_taints``,
  ``consumable_capacity``: the gate of that name;
* ``binding_conditions``: DRADeviceBindingConditions AND DRAResourceClaimDeviceStatus;
* ``list_type_attributes``: only the CEL environment (list values, ``includes``); kube-scheduler
  does not hand it to the allocator, so constraints keep their scalar comparison;
* ``channel``: the allocator implementation d-r-a picks for those features: ``stable`` unless
  binding conditions or consumable capacity are on, then ``incubating``.
This module must never look at devices or claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

KUBE_VERSIONS = ("1.34", "1.35", "1.36")
DEFAULT_KUBE_VERSION = "1.36"


@dataclass(frozen=True)
class _Stage:
    since: str
    default: bool
    locked: bool = False


_SPECS: dict[str, tuple[_Stage, ...]] = {
    "DRAAdminAccess": (_Stage("1.32", False), _Stage("1.34", True), _Stage("1.36", True, locked=True)),
    "DRAConsumableCapacity": (_Stage("1.34", False), _Stage("1.36", True)),
    "DRADeviceBindingConditions": (_Stage("1.34", False), _Stage("1.36", True)),
    "DRADeviceTaints": (_Stage("1.33", False), _Stage("1.36", True)),
    "DRAListTypeAttributes": (_Stage("1.36", False),),
    "DRAPartitionableDevices": (_Stage("1.33", False), _Stage("1.36", True)),
    "DRAPrioritizedList": (_Stage("1.33", False), _Stage("1.34", True), _Stage("1.36", True)),
    "DRAResourceClaimDeviceStatus": (_Stage("1.32", False), _Stage("1.33", True)),
}
"""Versioned specs of every gate the allocator path reads (kube_features.go)."""

_DEPENDENCIES = {"DRADeviceBindingConditions": ("DRAResourceClaimDeviceStatus",)}

GATE_NAMES = tuple(sorted(_SPECS))


class FeatureGateError(ValueError):
    """A ``--feature-gates`` value or Kubernetes version that a kube-scheduler would refuse."""


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _stage(name: str, version: str) -> _Stage | None:
    current = None
    for stage in _SPECS[name]:
        if _key(stage.since) <= _key(version):
            current = stage
    return current


def parse_gate_list(text: str) -> dict[str, bool]:
    """``"A=true,B=false"`` as a mapping; FeatureGateError naming the bad entry."""
    overrides: dict[str, bool] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, value = entry.partition("=")
        name, value = name.strip(), value.strip().lower()
        if not sep or value not in ("true", "false"):
            raise FeatureGateError(f"invalid feature gate {entry!r}: expected NAME=true or NAME=false")
        overrides[name] = value == "true"
    return overrides


@dataclass(frozen=True)
class FeatureGates:
    """The DRA feature gates of one simulated cluster: a Kubernetes version's defaults plus overrides."""

    version: str
    enabled: frozenset[str]

    @classmethod
    def for_version(
        cls, version: str | None = None, overrides: Mapping[str, bool] | str | None = None
    ) -> FeatureGates:
        """Defaults of ``version`` (default 1.36) plus ``overrides``, checked as kube-scheduler does."""
        version = version or DEFAULT_KUBE_VERSION
        if version not in KUBE_VERSIONS:
            raise FeatureGateError(
                f"unsupported Kubernetes version {version!r}; choose one of {', '.join(KUBE_VERSIONS)}"
            )
        changes = parse_gate_list(overrides) if isinstance(overrides, str) else dict(overrides or {})
        enabled = {name for name in GATE_NAMES if (s := _stage(name, version)) is not None and s.default}
        for name, value in changes.items():
            if name not in _SPECS:
                raise FeatureGateError(
                    f"unrecognized feature gate: {name} (the simulator knows {', '.join(GATE_NAMES)})"
                )
            stage = _stage(name, version)
            if stage is None:
                raise FeatureGateError(
                    f"cannot set feature gate {name} to {str(value).lower()}: it does not exist in "
                    f"Kubernetes {version} (added in {_SPECS[name][0].since})"
                )
            if stage.locked and value != stage.default:
                raise FeatureGateError(
                    f"cannot set feature gate {name} to {str(value).lower()}, feature is locked to "
                    f"{str(stage.default).lower()}"
                )
            (enabled.add if value else enabled.discard)(name)
        for name, needs in _DEPENDENCIES.items():
            missing = [need for need in needs if need not in enabled]
            if name in enabled and missing:
                raise FeatureGateError(
                    f"feature gate {name} depends on {', '.join(missing)}, which is disabled"
                )
        return cls(version, frozenset(enabled))

    def __contains__(self, name: object) -> bool:
        return name in self.enabled

    def as_dict(self) -> dict[str, bool]:
        """Every known gate with its value (the oracle's ``gates`` input)."""
        return {name: name in self.enabled for name in GATE_NAMES}

    def describe(self) -> str:
        on = ", ".join(sorted(self.enabled)) or "none"
        return f"Kubernetes {self.version} feature gates (DRA, enabled): {on}"

    # -- what the allocator does with them ----------------------------------------------------------

    @property
    def admin_access(self) -> bool:
        return "DRAAdminAccess" in self.enabled

    @property
    def prioritized_list(self) -> bool:
        return "DRAPrioritizedList" in self.enabled

    @property
    def partitionable_devices(self) -> bool:
        return "DRAPartitionableDevices" in self.enabled

    @property
    def device_taints(self) -> bool:
        return "DRADeviceTaints" in self.enabled

    @property
    def consumable_capacity(self) -> bool:
        return "DRAConsumableCapacity" in self.enabled

    @property
    def binding_conditions(self) -> bool:
        return {"DRADeviceBindingConditions", "DRAResourceClaimDeviceStatus"} <= self.enabled

    @property
    def list_type_attributes(self) -> bool:
        return "DRAListTypeAttributes" in self.enabled

    @property
    def channel(self) -> str:
        """The d-r-a allocator implementation kube-scheduler runs with these gates."""
        return "incubating" if self.binding_conditions or self.consumable_capacity else "stable"


DEFAULT_GATES = FeatureGates.for_version()
