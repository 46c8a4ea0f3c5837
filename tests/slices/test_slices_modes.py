"""Sharing modes: the gates each needs and the mode ``auto`` settles on."""

from __future__ import annotations

import itertools

import pytest

from dra_driver.kube.features import SUPPORTED_VERSIONS, FeatureGate, KubeVersion, default_feature_gates
from dra_driver.slices import AUTO_FALLBACK, REQUIRED_GATES, SharingMode, first_mode_for_gates

CONSUMABLE = FeatureGate.DRA_CONSUMABLE_CAPACITY
PARTITIONABLE = FeatureGate.DRA_PARTITIONABLE_DEVICES
TAINTS = FeatureGate.DRA_DEVICE_TAINTS


def test_fallback_order_and_required_gates() -> None:
    assert AUTO_FALLBACK == (SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS)
    assert REQUIRED_GATES == {
        SharingMode.CAPACITY: (CONSUMABLE,),
        SharingMode.PARTITIONS: (PARTITIONABLE,),
        SharingMode.REPLICAS: (),
        SharingMode.EXCLUSIVE: (),
    }
    assert [mode.value for mode in SharingMode] == ["capacity", "partitions", "replicas", "exclusive", "auto"]


@pytest.mark.parametrize(
    ("consumable", "partitionable", "taints"), list(itertools.product([False, True], repeat=3))
)
def test_first_mode_for_every_gate_combination(consumable: bool, partitionable: bool, taints: bool) -> None:
    gates = {CONSUMABLE: consumable, PARTITIONABLE: partitionable, TAINTS: taints}
    if consumable:
        expected = SharingMode.CAPACITY
    elif partitionable:
        expected = SharingMode.PARTITIONS
    else:
        expected = SharingMode.REPLICAS
    assert first_mode_for_gates(gates) is expected


def test_missing_gates_count_as_off() -> None:
    assert first_mode_for_gates({}) is SharingMode.REPLICAS
    assert first_mode_for_gates({PARTITIONABLE: True}) is SharingMode.PARTITIONS


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (KubeVersion(1, 34), SharingMode.REPLICAS),
        (KubeVersion(1, 35), SharingMode.REPLICAS),
        (KubeVersion(1, 36), SharingMode.CAPACITY),
    ],
)
def test_stock_servers(version: KubeVersion, expected: SharingMode) -> None:
    assert version in SUPPORTED_VERSIONS
    assert first_mode_for_gates(default_feature_gates(version)) is expected
