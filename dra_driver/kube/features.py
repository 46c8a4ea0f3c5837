"""Kubernetes versions and the DRA feature gates hdra cares about.

Owns: the supported minor versions, the default state of each DRA feature gate per version
(reference/dra-api.md section 1.7; checked against the versioned specs in k8s.io/kubernetes
pkg/features/kube_features.go v1.36.3, which also give the gates locked to their default, the
gates that do not exist yet in a version, and the dependencies), and parsing of ``--feature-gates``
strings, refusing what kube-scheduler refuses. It must never talk
to an API server: both the dev cluster (to emulate dropped fields) and the slice builder (to know
which fields a server keeps) read these tables.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class KubeVersion(NamedTuple):
    """A Kubernetes minor release, e.g. ``KubeVersion(1, 36)``."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """Accept ``1.36``, ``v1.36``, ``1.36.0`` or ``v1.36.3-fake``; reject anything else."""
        match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?", text.strip())
        if match is None:
            raise ValueError(f"invalid Kubernetes version {text!r}: expected MAJOR.MINOR such as 1.36")
        version = cls(int(match.group(1)), int(match.group(2)))
        if version not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise ValueError(f"unsupported Kubernetes version {text!r}: hdra supports {supported}")
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def schema_version(self) -> str:
        """The version string kubernetes-validate expects (``1.36.0``)."""
        return f"{self.major}.{self.minor}.0"


SUPPORTED_VERSIONS: tuple[KubeVersion, ...] = (KubeVersion(1, 34), KubeVersion(1, 35), KubeVersion(1, 36))
DEFAULT_VERSION = KubeVersion(1, 36)


class FeatureGate(StrEnum):
    """DRA feature gates whose state changes which fields the API server keeps."""

    DRA_CONSUMABLE_CAPACITY = "DRAConsumableCapacity"
    DRA_PARTITIONABLE_DEVICES = "DRAPartitionableDevices"
    DRA_DEVICE_TAINTS = "DRADeviceTaints"
    DRA_PRIORITIZED_LIST = "DRAPrioritizedList"
    DRA_ADMIN_ACCESS = "DRAAdminAccess"
    DRA_EXTENDED_RESOURCE = "DRAExtendedResource"
    DRA_RESOURCE_CLAIM_DEVICE_STATUS = "DRAResourceClaimDeviceStatus"
    DRA_DEVICE_BINDING_CONDITIONS = "DRADeviceBindingConditions"
    DRA_LIST_TYPE_ATTRIBUTES = "DRAListTypeAttributes"


# Defaults per release (alpha = off, beta/GA = on), from reference/dra-api.md section 1.7.
_DEFAULTS: dict[KubeVersion, dict[FeatureGate, bool]] = {
    KubeVersion(1, 34): {
        FeatureGate.DRA_CONSUMABLE_CAPACITY: False,
        FeatureGate.DRA_PARTITIONABLE_DEVICES: False,
        FeatureGate.DRA_DEVICE_TAINTS: False,
        FeatureGate.DRA_PRIORITIZED_LIST: True,
        FeatureGate.DRA_ADMIN_ACCESS: True,
        FeatureGate.DRA_EXTENDED_RESOURCE: False,
        FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS: True,
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS: False,
    },
    KubeVersion(1, 35): {
        FeatureGate.DRA_CONSUMABLE_CAPACITY: False,
        FeatureGate.DRA_PARTITIONABLE_DEVICES: False,
        FeatureGate.DRA_DEVICE_TAINTS: False,
        FeatureGate.DRA_PRIORITIZED_LIST: True,
        FeatureGate.DRA_ADMIN_ACCESS: True,
        FeatureGate.DRA_EXTENDED_RESOURCE: False,
        FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS: True,
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS: False,
    },
    KubeVersion(1, 36): {
        FeatureGate.DRA_CONSUMABLE_CAPACITY: True,
        FeatureGate.DRA_PARTITIONABLE_DEVICES: True,
        FeatureGate.DRA_DEVICE_TAINTS: True,
        FeatureGate.DRA_PRIORITIZED_LIST: True,
        FeatureGate.DRA_ADMIN_ACCESS: True,
        FeatureGate.DRA_EXTENDED_RESOURCE: True,
        FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS: True,
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS: True,
        FeatureGate.DRA_LIST_TYPE_ATTRIBUTES: False,
    },
}

_INTRODUCED = {FeatureGate.DRA_LIST_TYPE_ATTRIBUTES: KubeVersion(1, 36)}
"""Gates that do not exist before a version (kube_features.go: their first versioned spec)."""

_LOCKED = {(KubeVersion(1, 36), FeatureGate.DRA_ADMIN_ACCESS)}
"""(version, gate) pairs locked to their default (``LockToDefault``: GA)."""

_DEPENDENCIES = {FeatureGate.DRA_DEVICE_BINDING_CONDITIONS: (FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS,)}


def default_feature_gates(version: KubeVersion) -> dict[FeatureGate, bool]:
    """The gates a stock API server of ``version`` runs with."""
    return dict(_DEFAULTS[version])


def parse_feature_gates(text: str, version: KubeVersion) -> dict[FeatureGate, bool]:
    """Apply ``Name=true,Other=false`` on top of the defaults of ``version``.

    Unknown gate names and values other than true/false are errors that name the offending item,
    like the real ``--feature-gates`` flag.
    """
    gates = default_feature_gates(version)
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"invalid feature gate {item!r}: expected Name=true|false")
        try:
            gate = FeatureGate(name.strip())
        except ValueError:
            known = ", ".join(g.value for g in FeatureGate)
            raise ValueError(f"unknown feature gate {name.strip()!r}: known gates are {known}") from None
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"invalid value {value!r} for feature gate {gate.value}: expected true or false")
        enabled = lowered == "true"
        if gate not in gates:
            raise ValueError(
                f"cannot set feature gate {gate.value} to {lowered}: it does not exist in Kubernetes "
                f"{version} (added in {_INTRODUCED[gate]})"
            )
        if (version, gate) in _LOCKED and enabled != gates[gate]:
            default = str(gates[gate]).lower()
            raise ValueError(
                f"cannot set feature gate {gate.value} to {lowered}, feature is locked to {default}"
            )
        gates[gate] = enabled
    for gate, needs in _DEPENDENCIES.items():
        missing = [need.value for need in needs if not gates.get(need, False)]
        if gates.get(gate, False) and missing:
            raise ValueError(f"feature gate {gate.value} depends on {', '.join(missing)}, which is disabled")
    return gates
