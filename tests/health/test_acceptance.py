"""Issue 8 acceptance for health: a marked card is tainted in its slice within 2 s, the allocator
stops placing claims on it, clearing the mark removes the taint; a health stream client over a real
unix socket sees UNHEALTHY with the message, then HEALTHY."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.controller.health_wiring import NodeHealth, node_health
from dra_driver.devcluster import DevCluster
from dra_driver.devices import MockBackend
from dra_driver.kube import KubeClient
from dra_driver.kubeletapi.drahealth.v1alpha1 import api_pb2 as health_pb2
from dra_driver.kubeletapi.drahealth.v1alpha1 import api_pb2_grpc as health_grpc
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.plugin import SUPPORTED_VERSIONS, PluginServer
from dra_driver.sim import ClusterState, Placement
from dra_driver.slices import SharingMode
from tests.support.claim_preparer import FakePreparer

DRIVER = "mock.hdra.io"
NODE = "node-a"
TAINT_KEY = f"{DRIVER}/unhealthy"


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def health_file(tmp_path: Path) -> Path:
    return tmp_path / "health"


@pytest.fixture
def health(health_file: Path) -> Iterator[NodeHealth]:
    cards = MockBackend(NODE).discover()
    wired = node_health("mock", cards, node_name=NODE, mock_health_file=health_file)
    assert wired is not None
    wired.devices(lambda: cards)
    yield wired
    wired.stop()


def slice_dicts(kube: KubeClient) -> list[dict[str, Any]]:
    stored = kube.resource_slices.list(field_selector=f"spec.nodeName={NODE},spec.driver={DRIVER}").items
    return [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in stored]


def tainted_devices(kube: KubeClient) -> set[str]:
    return {
        device["name"]
        for slice_ in slice_dicts(kube)
        for device in slice_["spec"].get("devices", [])
        if any(taint["key"] == TAINT_KEY for taint in device.get("taints", []))
    }


def claim(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": DRIVER}}]}},
    }


def placed_devices(slices: list[dict[str, Any]], count: int) -> list[str]:
    """Place ``count`` single-device claims one by one; the devices they got."""
    state = ClusterState(slices)
    devices: list[str] = []
    for i in range(count):
        placement = state.place_pod([claim(f"c{i}")])
        if not isinstance(placement, Placement):
            break
        state.commit(placement)
        results = placement.allocation(f"default/c{i}")["devices"]["results"]
        devices.extend(result["device"] for result in results)
    return devices


def test_marked_card_is_tainted_within_2s_skipped_by_the_allocator_and_cleared(
    cluster: DevCluster, kube: KubeClient, health: NodeHealth, health_file: Path
) -> None:
    cluster.create_node(NODE)
    cards = MockBackend(NODE).discover()
    publisher = SlicePublisher(
        kube, driver=DRIVER, node_name=NODE, devices=health.devices(lambda: cards), mode=SharingMode.EXCLUSIVE
    )
    controller = SliceController(publisher)
    health.attach(publisher, controller)
    health.start()
    controller.start()
    try:
        assert tainted_devices(kube) == set()
        assert sorted(placed_devices(slice_dicts(kube), 4)) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]

        marked = time.monotonic()
        health_file.write_text("gpu-2\n")
        assert wait_until(lambda: tainted_devices(kube) == {"gpu-2"}, timeout=2.0)
        assert time.monotonic() - marked <= 2.0
        (taint,) = next(
            device["taints"]
            for s in slice_dicts(kube)
            for device in s["spec"]["devices"]
            if device["name"] == "gpu-2"
        )
        assert (taint["value"], taint["effect"]) == ("MarkedUnhealthy", "NoSchedule")
        assert sorted(placed_devices(slice_dicts(kube), 4)) == ["gpu-0", "gpu-1", "gpu-3"]

        health_file.write_text("")
        assert wait_until(lambda: tainted_devices(kube) == set(), timeout=2.0)
        assert sorted(placed_devices(slice_dicts(kube), 4)) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]
    finally:
        controller.stop()


def test_health_stream_sees_unhealthy_with_message_then_healthy(
    tmp_path: Path, health: NodeHealth, health_file: Path
) -> None:
    server = PluginServer(
        DRIVER,
        FakePreparer({}),
        plugin_dir=tmp_path / "plugins",
        registry_dir=tmp_path / "registry",
        health=health,
    )
    health.start()
    server.start()
    channel = grpc.insecure_channel(f"unix://{server.dra_socket}")
    try:
        info = registration_grpc.RegistrationStub(  # type: ignore[no-untyped-call]
            grpc.insecure_channel(f"unix://{server.registration_socket}")
        ).GetInfo(registration.InfoRequest(), timeout=5)
        assert list(info.supported_versions) == [*SUPPORTED_VERSIONS, "v1alpha1.DRAResourceHealth"]

        stub = health_grpc.DRAResourceHealthStub(channel)  # type: ignore[no-untyped-call]
        stream = stub.NodeWatchResources(health_pb2.NodeWatchResourcesRequest(), timeout=30)
        first = next(stream)
        assert {d.device.device_name: d.health for d in first.devices} == {
            f"gpu-{i}": health_pb2.HEALTHY for i in range(4)
        }
        assert {d.device.pool_name for d in first.devices} == {NODE}
        assert all(d.last_updated_time >= int(time.time()) - 60 for d in first.devices)

        health_file.write_text("gpu-1\n")
        second = next(stream)
        sick = {d.device.device_name: d for d in second.devices if d.health == health_pb2.UNHEALTHY}
        assert list(sick) == ["gpu-1"]
        assert sick["gpu-1"].message.startswith("MarkedUnhealthy: device gpu-1 is listed")

        health_file.write_text("")
        third = next(stream)
        assert {d.health for d in third.devices} == {health_pb2.HEALTHY}
        stream.cancel()
    finally:
        channel.close()
        server.stop(grace=0.5)


def test_without_health_the_service_is_neither_served_nor_advertised(tmp_path: Path) -> None:
    server = PluginServer(
        DRIVER, FakePreparer({}), plugin_dir=tmp_path / "plugins", registry_dir=tmp_path / "registry"
    )
    server.start()
    channel = grpc.insecure_channel(f"unix://{server.dra_socket}")
    try:
        info = registration_grpc.RegistrationStub(  # type: ignore[no-untyped-call]
            grpc.insecure_channel(f"unix://{server.registration_socket}")
        ).GetInfo(registration.InfoRequest(), timeout=5)
        assert "v1alpha1.DRAResourceHealth" not in info.supported_versions
        stub = health_grpc.DRAResourceHealthStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as caught:
            next(stub.NodeWatchResources(health_pb2.NodeWatchResourcesRequest(), timeout=5))
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        channel.close()
        server.stop(grace=0.5)
