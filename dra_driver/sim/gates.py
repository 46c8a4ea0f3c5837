"""What the structured allocator does with a cluster's feature gates.

Owns: ``FeatureGates`` (a Kubernetes version and its enabled DRA gates, from
``dra_driver.kube.features``, which owns the per-version defaults and ``--feature-gates`` parsing)
and the mapping from gates to allocator behaviour, which is kube-scheduler's ``AllocatorFeatures``
and its CEL cache features (k8s.io/kubernetes
``pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go``, v1.36.3):

* ``admin_access``, ``prioritized_list``, ``partitionable_devices``, ``device_taints``,
  ``consumable_capacity``: the gate of that name;
* ``binding_conditions``: DRADeviceBindingConditions AND DRAResourceClaimDeviceStatus;
* ``list_type_attributes``: only the CEL environment (list values); kube-scheduler does not hand
  it to the allocator, so constraints keep their scalar comparison;
* ``channel``: the allocator implementation d-r-a picks for those features: ``stable`` unless
  binding conditions or consumable capacity are on, then ``incubating``.
This module must never look at devices or claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dra_driver.kube.features import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    FeatureGate,
    KubeVersion,
    default_feature_gates,
    parse_feature_gates,
)

KUBE_VERSIONS = tuple(str(v) for v in SUPPORTED_VERSIONS)
ALLOCATOR_GATES = (
    FeatureGate.DRA_ADMIN_ACCESS,
    FeatureGate.DRA_CONSUMABLE_CAPACITY,
    FeatureGate.DRA_DEVICE_BINDING_CONDITIONS,
    FeatureGate.DRA_DEVICE_TAINTS,
    FeatureGate.DRA_LIST_TYPE_ATTRIBUTES,
    FeatureGate.DRA_PARTITIONABLE_DEVICES,
    FeatureGate.DRA_PRIORITIZED_LIST,
    FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS,
)
"""The gates kube-scheduler's allocator path reads (the oracle's ``gates`` input)."""


class FeatureGateError(ValueError):
    """A Kubernetes version or ``--feature-gates`` value that kube-scheduler would refuse."""


@dataclass(frozen=True)
class FeatureGates:
    """The DRA feature gates of one simulated cluster: a Kubernetes version's defaults plus overrides."""

    version: str
    enabled: frozenset[str]

    @classmethod
    def for_version(
        cls, version: str | None = None, overrides: Mapping[str, bool] | str | None = None
    ) -> FeatureGates:
        """Defaults of ``version`` (default 1.36) plus ``overrides``; FeatureGateError naming the cause."""
        try:
            parsed = KubeVersion.parse(version) if version else DEFAULT_VERSION
            text = (
                overrides
                if isinstance(overrides, str)
                else ",".join(f"{k}={str(v).lower()}" for k, v in (overrides or {}).items())
            )
            gates = parse_feature_gates(text, parsed) if text else default_feature_gates(parsed)
        except ValueError as exc:
            raise FeatureGateError(str(exc)) from None
        return cls(str(parsed), frozenset(gate.value for gate, on in gates.items() if on))

    def __contains__(self, name: object) -> bool:
        return name in self.enabled

    def as_dict(self) -> dict[str, bool]:
        """Every gate the allocator reads, with its value (the oracle's ``gates`` input)."""
        return {gate.value: gate.value in self.enabled for gate in ALLOCATOR_GATES}

    def describe(self) -> str:
        on = ", ".join(sorted(g for g in self.enabled if g in {a.value for a in ALLOCATOR_GATES})) or "none"
        return f"Kubernetes {self.version}, DRA feature gates on: {on}"

    # -- what the allocator does with them ----------------------------------------------------------

    @property
    def admin_access(self) -> bool:
        return FeatureGate.DRA_ADMIN_ACCESS in self.enabled

    @property
    def prioritized_list(self) -> bool:
        return FeatureGate.DRA_PRIORITIZED_LIST in self.enabled

    @property
    def partitionable_devices(self) -> bool:
        return FeatureGate.DRA_PARTITIONABLE_DEVICES in self.enabled

    @property
    def device_taints(self) -> bool:
        return FeatureGate.DRA_DEVICE_TAINTS in self.enabled

    @property
    def consumable_capacity(self) -> bool:
        return FeatureGate.DRA_CONSUMABLE_CAPACITY in self.enabled

    @property
    def binding_conditions(self) -> bool:
        needed = {
            FeatureGate.DRA_DEVICE_BINDING_CONDITIONS.value,
            FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS.value,
        }
        return needed <= self.enabled

    @property
    def list_type_attributes(self) -> bool:
        return FeatureGate.DRA_LIST_TYPE_ATTRIBUTES in self.enabled

    @property
    def channel(self) -> str:
        """The d-r-a allocator implementation kube-scheduler runs with these gates."""
        return "incubating" if self.binding_conditions or self.consumable_capacity else "stable"


DEFAULT_GATES = FeatureGates.for_version()
