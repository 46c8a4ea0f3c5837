"""dropped_gates and slice_content: what the controller compares after a write."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from dra_driver.kube.features import FeatureGate, KubeVersion
from dra_driver.kube.models import DeviceTaint, ResourceSlice
from dra_driver.slices import SharingMode, SliceOptions, build_slices, dropped_gates, slice_content
from tests.slices.slices_support import DRIVER, NODE, a100_node, as_dict

CONSUMABLE = FeatureGate.DRA_CONSUMABLE_CAPACITY
PARTITIONABLE = FeatureGate.DRA_PARTITIONABLE_DEVICES
TAINTS = FeatureGate.DRA_DEVICE_TAINTS
BINDING = FeatureGate.DRA_DEVICE_BINDING_CONDITIONS


def _slices(mode: SharingMode, version: str = "1.36") -> list[ResourceSlice]:
    options = SliceOptions(kube_version=KubeVersion.parse(version))
    return build_slices(a100_node(), driver=DRIVER, node_name=NODE, mode=mode, options=options)


def _stored(
    sent: ResourceSlice, strip: Callable[[dict[str, Any]], None] = lambda spec: None
) -> ResourceSlice:
    """What an API server returns: the sent object after a JSON round trip, minus stripped fields."""
    body = json.loads(json.dumps(as_dict(sent)))
    body["metadata"].update({"uid": "1234", "resourceVersion": "7", "generation": 1})
    strip(body["spec"])
    return ResourceSlice.model_validate(body)


def _strip_device_field(*fields: str) -> Callable[[dict[str, Any]], None]:
    def strip(spec: dict[str, Any]) -> None:
        for device in spec.get("devices", []):
            for field in fields:
                device.pop(field, None)

    return strip


def _strip_request_policies(spec: dict[str, Any]) -> None:
    for device in spec["devices"]:
        for capacity in device["capacity"].values():
            capacity.pop("requestPolicy", None)


def _strip_shared_counters(spec: dict[str, Any]) -> None:
    spec.pop("sharedCounters", None)


@pytest.mark.parametrize(
    "mode", [SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS, SharingMode.EXCLUSIVE]
)
@pytest.mark.parametrize("version", ["1.34", "1.35", "1.36"])
def test_nothing_dropped(mode: SharingMode, version: str) -> None:
    for sent in _slices(mode, version):
        assert dropped_gates(sent, _stored(sent)) == set()


@pytest.mark.parametrize(
    ("mode", "strip", "expected"),
    [
        (SharingMode.CAPACITY, _strip_device_field("allowMultipleAllocations"), {CONSUMABLE}),
        (SharingMode.CAPACITY, _strip_request_policies, {CONSUMABLE}),
        (SharingMode.PARTITIONS, _strip_device_field("consumesCounters"), {PARTITIONABLE}),
        (SharingMode.PARTITIONS, _strip_shared_counters, {PARTITIONABLE}),
        (SharingMode.REPLICAS, _strip_device_field("attributes"), set()),  # not a gated field
    ],
)
@pytest.mark.parametrize("version", ["1.34", "1.36"])
def test_each_gate_is_detected(
    mode: SharingMode, strip: Callable[[dict[str, Any]], None], expected: set[FeatureGate], version: str
) -> None:
    found: set[FeatureGate] = set()
    for sent in _slices(mode, version):
        found |= dropped_gates(sent, _stored(sent, strip))
    assert found == expected


def test_partition_counters_slice_alone_is_detected() -> None:
    counters = _slices(SharingMode.PARTITIONS, "1.35")[0]
    assert counters.spec.shared_counters
    assert dropped_gates(counters, _stored(counters, _strip_shared_counters)) == {PARTITIONABLE}


def test_taints_binding_and_per_device_node_selection_are_detected() -> None:
    sent = _slices(SharingMode.EXCLUSIVE)[0]
    assert sent.spec.devices
    device = sent.spec.devices[0]
    device.taints = [DeviceTaint(key="hdra.io/unhealthy", value="xid-79", effect="NoSchedule")]
    assert dropped_gates(sent, _stored(sent, _strip_device_field("taints"))) == {TAINTS}
    device.binds_to_node = True
    assert dropped_gates(sent, _stored(sent, _strip_device_field("taints", "bindsToNode"))) == {
        TAINTS,
        BINDING,
    }
    assert dropped_gates(sent, _stored(sent)) == set()

    per_device = _slices(SharingMode.EXCLUSIVE)[0]
    assert per_device.spec.devices
    per_device.spec.node_name = None
    per_device.spec.per_device_node_selection = True
    per_device.spec.devices[0].node_name = NODE

    def strip(spec: dict[str, Any]) -> None:
        spec.pop("perDeviceNodeSelection")

    assert dropped_gates(per_device, _stored(per_device, strip)) == {PARTITIONABLE}
    assert dropped_gates(per_device, _stored(per_device, _strip_device_field("nodeName"))) == {PARTITIONABLE}


def test_several_gates_at_once_and_missing_devices() -> None:
    sent = _slices(SharingMode.CAPACITY)[0]
    assert sent.spec.devices
    sent.spec.devices[1].taints = [DeviceTaint(key="hdra.io/unhealthy", effect="NoExecute")]

    def strip(spec: dict[str, Any]) -> None:
        _strip_device_field("allowMultipleAllocations", "taints")(spec)
        _strip_request_policies(spec)

    assert dropped_gates(sent, _stored(sent, strip)) == {CONSUMABLE, TAINTS}

    def drop_first_device(spec: dict[str, Any]) -> None:
        spec["devices"] = spec["devices"][1:]

    # A device the server does not return at all is not a dropped field.
    assert dropped_gates(sent, _stored(sent, drop_first_device)) == set()


def test_slice_content_ignores_generation_only() -> None:
    for sent in _slices(SharingMode.PARTITIONS, "1.35"):
        content = slice_content(sent)
        assert json.loads(json.dumps(content)) == content
        assert "generation" not in content["pool"]
        stored = _stored(sent)
        stored.spec.pool.generation = 5
        assert slice_content(stored) == content
    first = _slices(SharingMode.CAPACITY)[0]

    def more_shares(spec: dict[str, Any]) -> None:
        spec["devices"][0]["capacity"]["shares"]["value"] = "11"

    assert slice_content(_stored(first, more_shares)) != slice_content(first)


@pytest.mark.parametrize(
    "change",
    [
        lambda spec: spec["devices"].pop(),
        lambda spec: spec["devices"].reverse(),
        lambda spec: spec["devices"][0]["attributes"].update({"productName": {"string": "other"}}),
        lambda spec: spec["devices"][0]["capacity"]["memory"].update({"value": "39Gi"}),
        lambda spec: spec["pool"].update({"resourceSliceCount": 2}),
        lambda spec: spec.update({"nodeName": "node-b"}),
    ],
)
def test_slice_content_sees_device_changes(change: Callable[[dict[str, Any]], None]) -> None:
    sent = _slices(SharingMode.EXCLUSIVE)[0]
    assert slice_content(_stored(sent, change)) != slice_content(sent)


def test_slice_content_ignores_server_spelling() -> None:
    sent = _slices(SharingMode.CAPACITY)[0]
    assert sent.spec.devices
    sent.spec.devices[0].taints = [DeviceTaint(key="hdra.io/unhealthy", value="xid-79", effect="NoSchedule")]

    def respell(spec: dict[str, Any]) -> None:
        device = spec["devices"][0]
        device["capacity"]["memory"]["value"] = "40960Mi"
        device["capacity"]["memory"]["requestPolicy"]["default"] = str(40 * 1024**3)
        device["capacity"]["memory"]["requestPolicy"]["validRange"]["step"] = "1024Ki"
        device["taints"][0]["timeAdded"] = "2026-07-01T00:00:00Z"
        # Attribute order differs too.
        device["attributes"] = dict(reversed(list(device["attributes"].items())))

    assert slice_content(_stored(sent, respell)) == slice_content(sent)

    empty = build_slices([], driver=DRIVER, node_name=NODE, mode=SharingMode.CAPACITY)[0]
    assert empty.spec.devices == []

    def omit_devices(spec: dict[str, Any]) -> None:
        spec.pop("devices")

    assert slice_content(_stored(empty, omit_devices)) == slice_content(empty)
