"""The slice publisher and controller against the dev cluster, through the official client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dra_driver.controller import PublishError, SliceController, SlicePublisher
from dra_driver.devcluster import DevCluster, FaultRule
from dra_driver.devices import AcceleratorDevice, Version
from dra_driver.kube import KubeClient
from dra_driver.kube.features import FeatureGate, KubeVersion
from dra_driver.kube.models import ResourceSlice
from dra_driver.slices import SharingMode, SliceOptions

DRIVER = "mock.hdra.io"
NODE = "node-a"


def card(index: int, memory_gib: int = 40) -> AcceleratorDevice:
    return AcceleratorDevice(
        name=f"gpu-{index}",
        index=index,
        uuid=f"GPU-0000000{index}-aaaa-bbbb-cccc-00000000000{index}",
        vendor="nvidia",
        device_type="gpu",
        product_name="NVIDIA A100-SXM4-40GB",
        architecture="Ampere",
        memory_bytes=memory_gib * 1024**3,
        driver_version=Version(semver="580.95.5"),
        pci_bus_id=f"0000:{index + 16:02x}:00.0",
    )


class Inventory:
    """A mutable device list the publisher reads on every sync."""

    def __init__(self, count: int) -> None:
        self.devices = [card(i) for i in range(count)]

    def __call__(self) -> list[AcceleratorDevice]:
        return list(self.devices)


def slices(kube: KubeClient, node: str = NODE) -> list[ResourceSlice]:
    return list(kube.resource_slices.list(field_selector=f"spec.nodeName={node},spec.driver={DRIVER}").items)


def generations(kube: KubeClient) -> set[int]:
    return {s.spec.pool.generation for s in slices(kube) if s.spec is not None}


def make_publisher(
    kube: KubeClient,
    inventory: Callable[[], list[AcceleratorDevice]],
    mode: SharingMode = SharingMode.CAPACITY,
) -> SlicePublisher:
    return SlicePublisher(kube, driver=DRIVER, node_name=NODE, devices=inventory, mode=mode)


@pytest.fixture
def node(cluster: DevCluster) -> str:
    cluster.create_node(NODE)
    return NODE


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_first_sync_creates_owned_slices_and_second_writes_nothing(
    cluster: DevCluster, kube: KubeClient, node: str
) -> None:
    publisher = make_publisher(kube, Inventory(4))
    first = publisher.sync()
    assert first.created and not first.updated and not first.deleted
    stored = slices(kube)
    node_uid = kube.nodes.get(node).metadata.uid  # type: ignore[union-attr]
    for slice_ in stored:
        assert slice_.spec is not None and slice_.metadata is not None
        assert slice_.spec.pool.name == node
        assert slice_.spec.pool.generation == 1
        assert slice_.spec.pool.resource_slice_count == len(stored)
        owners = slice_.metadata.owner_references or []
        assert [(o.kind, o.name, o.uid, o.controller) for o in owners] == [("Node", node, node_uid, True)]
    writes_before = cluster.stats.writes
    second = publisher.sync()
    assert second.writes == 0
    assert cluster.stats.writes == writes_before


def test_content_change_bumps_generation_once(kube: KubeClient, node: str) -> None:
    inventory = Inventory(4)
    publisher = make_publisher(kube, inventory)
    publisher.sync()
    inventory.devices = inventory.devices[:3]
    result = publisher.sync()
    assert result.generation == 2 and result.writes > 0
    assert generations(kube) == {2}
    assert publisher.sync().writes == 0
    assert generations(kube) == {2}


def test_shrinking_node_deletes_obsolete_slices(kube: KubeClient, node: str) -> None:
    inventory = Inventory(200)  # more than one slice of 128 devices
    publisher = make_publisher(kube, inventory, SharingMode.EXCLUSIVE)
    publisher.sync()
    assert len(slices(kube)) == 2
    inventory.devices = inventory.devices[:2]
    result = publisher.sync()
    assert len(result.deleted) == 1
    remaining = slices(kube)
    assert len(remaining) == 1
    assert remaining[0].spec is not None and remaining[0].spec.pool.resource_slice_count == 1


def test_restarted_publisher_adopts_identical_slices_without_writing(
    cluster: DevCluster, kube: KubeClient, node: str
) -> None:
    make_publisher(kube, Inventory(4)).sync()
    writes_before = cluster.stats.writes
    restarted = make_publisher(kube, Inventory(4))
    assert restarted.sync().writes == 0
    assert cluster.stats.writes == writes_before
    assert generations(kube) == {1}


def test_missing_node_is_a_clear_error(kube: KubeClient) -> None:
    publisher = SlicePublisher(kube, driver=DRIVER, node_name="nowhere", devices=Inventory(1))
    with pytest.raises(PublishError, match="node nowhere does not exist"):
        publisher.sync()


@pytest.fixture
def controller(kube: KubeClient, node: str) -> Iterator[SliceController]:
    running = SliceController(make_publisher(kube, Inventory(4)), resync_seconds=60.0)
    running.start()
    yield running
    running.stop()


def test_deleted_slice_is_repaired_within_two_seconds_at_same_generation(
    kube: KubeClient, controller: SliceController
) -> None:
    victim = slices(kube)[0]
    assert victim.metadata is not None and victim.metadata.name is not None
    name = victim.metadata.name
    kube.resource_slices.delete(name)
    assert wait_until(
        lambda: any(s.metadata is not None and s.metadata.name == name for s in slices(kube)), 2.0
    )
    assert generations(kube) == {1}


def test_edited_slice_is_repaired_within_two_seconds(kube: KubeClient, controller: SliceController) -> None:
    victim = slices(kube)[0]
    assert victim.metadata is not None and victim.metadata.name is not None and victim.spec is not None
    name = victim.metadata.name
    devices = victim.spec.devices or []
    assert devices and devices[0].attributes is not None
    original = devices[0].attributes["productName"].string
    devices[0].attributes["productName"].string = "tampered"
    kube.resource_slices.update(victim)

    def restored() -> bool:
        current = kube.resource_slices.get(name)
        assert current.spec is not None and current.spec.devices
        attrs = current.spec.devices[0].attributes or {}
        return attrs["productName"].string == original

    assert wait_until(restored, 2.0)


def test_all_slices_wiped_by_kubelet_are_recreated(kube: KubeClient, controller: SliceController) -> None:
    count = len(slices(kube))
    kube.resource_slices.delete_collection(field_selector=f"spec.nodeName={NODE},spec.driver={DRIVER}")
    assert wait_until(lambda: len(slices(kube)) == count, 2.0)


def test_conflict_during_sync_converges(cluster: DevCluster, kube: KubeClient, node: str) -> None:
    inventory = Inventory(4)
    publisher = make_publisher(kube, inventory)
    publisher.sync()
    inventory.devices = inventory.devices[:2]
    cluster.faults.add(FaultRule(method="PUT", path_regex="resourceslices", status=409, count=1))
    running = SliceController(publisher, resync_seconds=60.0)
    running.start()
    try:
        assert wait_until(lambda: running.last_error is None and running.last_result is not None, 5.0)
        stored = slices(kube)
        assert stored[0].spec is not None and len(stored[0].spec.devices or []) == 2
    finally:
        running.stop()


def _gated_cluster(gates: dict[FeatureGate, bool], tmp_path: Path) -> tuple[DevCluster, KubeClient]:
    cluster = DevCluster(kube_version=KubeVersion(1, 36), feature_gates=gates)
    cluster.start()
    cluster.create_node(NODE)
    return cluster, KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp_path / "kubeconfig"))


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [
        ({FeatureGate.DRA_CONSUMABLE_CAPACITY: False}, SharingMode.PARTITIONS),
        (
            {FeatureGate.DRA_CONSUMABLE_CAPACITY: False, FeatureGate.DRA_PARTITIONABLE_DEVICES: False},
            SharingMode.REPLICAS,
        ),
    ],
)
def test_auto_falls_back_when_gates_are_off_and_says_why(
    disabled: dict[FeatureGate, bool], expected: SharingMode, tmp_path: Path
) -> None:
    gates = dict.fromkeys(FeatureGate, True) | disabled
    cluster, kube = _gated_cluster(gates, tmp_path)
    try:
        publisher = make_publisher(kube, Inventory(2), SharingMode.AUTO)
        result = publisher.sync()
        assert result.mode is expected
        # The dry-run probe picked the mode before any real write: no broken pool was ever stored.
        assert result.generation == 1
        assert generations(kube) == {1}
        assert publisher.sync().writes == 0
        names = {s.metadata.name for s in slices(kube) if s.metadata}
        if expected is SharingMode.REPLICAS:
            assert all(
                any(d.name.startswith("gpu-") and "-r" in d.name for d in s.spec.devices or [])
                for s in slices(kube)
                if s.spec
            )
        assert names
        events = kube.events.list("default").items
        messages = [e.message or "" for e in events if e.reason == "SharingModeFallback"]
        assert any("DRAConsumableCapacity" in m for m in messages)
        # Issue 18 item 13: `kubectl describe node` lists a node's events by kind, name and uid, where
        # the uid is the node's or, as the kubelet writes it, the node name (kubectl describe.go).
        described = kube.events.list(
            "default",
            field_selector=f"involvedObject.kind=Node,involvedObject.name={NODE},involvedObject.uid={NODE}",
        ).items
        assert {e.reason for e in described} >= {"SharingModeFallback"}
    finally:
        cluster.stop()


def test_explicit_mode_with_disabled_gate_is_an_error(tmp_path: Path) -> None:
    gates = dict.fromkeys(FeatureGate, True) | {FeatureGate.DRA_CONSUMABLE_CAPACITY: False}
    cluster, kube = _gated_cluster(gates, tmp_path)
    try:
        publisher = make_publisher(kube, Inventory(2), SharingMode.CAPACITY)
        with pytest.raises(PublishError, match="DRAConsumableCapacity"):
            publisher.sync()
    finally:
        cluster.stop()


def test_options_are_passed_to_the_builder(kube: KubeClient, node: str) -> None:
    publisher = SlicePublisher(
        kube,
        driver=DRIVER,
        node_name=NODE,
        devices=Inventory(1),
        mode=SharingMode.REPLICAS,
        options=SliceOptions(replicas=2),
    )
    publisher.sync()
    names = sorted(d.name for s in slices(kube) if s.spec for d in s.spec.devices or [])
    assert names == ["gpu-0-r0", "gpu-0-r1"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (KubeVersion(1, 34), SharingMode.REPLICAS),
        (KubeVersion(1, 35), SharingMode.REPLICAS),
        (KubeVersion(1, 36), SharingMode.CAPACITY),
    ],
)
def test_auto_on_stock_servers_of_each_release(
    version: KubeVersion, expected: SharingMode, tmp_path: Path
) -> None:
    """Every write is validated by the server against that release's strict schema."""
    with DevCluster(kube_version=version) as cluster:
        cluster.create_node(NODE)
        kube = KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp_path / "kubeconfig"))
        publisher = SlicePublisher(
            kube,
            driver=DRIVER,
            node_name=NODE,
            devices=Inventory(8),
            mode=SharingMode.AUTO,
            options=SliceOptions(kube_version=version),
        )
        result = publisher.sync()
        assert result.mode is expected
        assert result.generation == 1
        assert publisher.sync().writes == 0
