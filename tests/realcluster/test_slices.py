"""hdra's slice publisher against the real kube-apiserver (issue 12, "Slices").

* Every mock profile (the NVIDIA ones and the Ascend, Cambricon, Hygon and AMD ones) in every
  sharing mode is accepted by the real validation, reads back with the same content, and a re-sync
  (by the same publisher, and by a fresh one as after a plugin restart) writes nothing.
* The real server canonicalises quantities (``1024Mi`` comes back as ``1Gi``) and the publisher's
  comparison treats both spellings as equal.
* ``auto`` on control planes started with DRAConsumableCapacity=false (and also
  DRAPartitionableDevices=false) falls back exactly as on the dev cluster: same mode, same slices,
  same Node Event.
* A health taint on a card of a slice holding the most devices a slice may hold re-lays the pool
  out within the 64-device limit for slices with taints, and the real server accepts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.devices.mock import MOCK_PROFILES
from dra_driver.devices.registry import DRIVER_FOR_BACKEND
from dra_driver.kube import KubeClient
from dra_driver.kube.features import FeatureGate
from dra_driver.kube.models import ResourceSlice
from dra_driver.slices import SharingMode, SliceOptions, slice_content
from tests.realcluster.support import assert_fully_stopped
from tests.support.realcluster import RealScope, start_real_cluster

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

# What auto settles on with the release defaults of 1.36 (consumable capacity is beta and on).
AUTO_ON_DEFAULTS = SharingMode.CAPACITY


def _devices(node: str, profile: str) -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=node, profile=profile).discover()


def _publisher(
    client: KubeClient,
    node: str,
    devices: Sequence[AcceleratorDevice],
    mode: SharingMode,
    options: SliceOptions | None = None,
) -> SlicePublisher:
    driver = DRIVER_FOR_BACKEND[devices[0].vendor]
    return SlicePublisher(
        client, driver=driver, node_name=node, devices=lambda: list(devices), mode=mode, options=options
    )


def _stored(client: KubeClient, publisher: SlicePublisher) -> dict[str, ResourceSlice]:
    items = client.resource_slices.list(field_selector=publisher.field_selector).items
    return {s.metadata.name: s for s in items if s.metadata is not None and s.metadata.name}


def _contents(slices: Mapping[str, ResourceSlice] | Sequence[ResourceSlice]) -> dict[str, Any]:
    values = slices.values() if isinstance(slices, Mapping) else slices
    return {s.metadata.name: slice_content(s) for s in values if s.metadata and s.metadata.name}


@pytest.mark.parametrize("mode", list(SharingMode), ids=str)
@pytest.mark.parametrize("profile", sorted(MOCK_PROFILES))
def test_every_profile_and_mode_is_accepted_and_a_resync_writes_nothing(
    real_scope: RealScope, profile: str, mode: SharingMode
) -> None:
    node = real_scope.node(f"{profile}-{mode.value}")
    devices = _devices(node, profile)
    publisher = _publisher(real_scope.client, node, devices, mode)

    first = publisher.sync()
    assert first.mode is (AUTO_ON_DEFAULTS if mode is SharingMode.AUTO else mode)
    assert first.created, "the first sync must create the node's slices"
    assert (first.updated, first.deleted) == ([], [])
    stored = _stored(real_scope.client, publisher)
    assert sorted(stored) == sorted(first.created)
    # What the real server kept (after its defaulting and canonicalisation) says what we sent.
    assert _contents(stored) == _contents(publisher.published_slices)

    again = publisher.sync()
    assert again.writes == 0, f"a re-sync rewrote {again.updated or again.created or again.deleted}"
    restarted = _publisher(real_scope.client, node, devices, mode).sync()
    assert restarted.writes == 0, "a restarted plugin rewrote slices that already said the same"
    assert restarted.generation == first.generation
    after = _stored(real_scope.client, publisher)
    assert {n: s.metadata.resource_version for n, s in after.items() if s.metadata} == {
        n: s.metadata.resource_version for n, s in stored.items() if s.metadata
    }


def test_the_server_canonicalises_quantities_and_the_comparison_ignores_it(real_scope: RealScope) -> None:
    node = real_scope.node("quantities")
    devices = _devices(node, "a100x4")
    publisher = _publisher(real_scope.client, node, devices, SharingMode.EXCLUSIVE)
    publisher.sync()
    stored = next(iter(_stored(real_scope.client, publisher).values()))
    assert stored.spec is not None and stored.spec.devices
    device = stored.spec.devices[0]
    assert device.capacity is not None
    # Re-spell the memory the way a person might, write it, and read what the server made of it.
    device.capacity["memory"].value = "40960Mi"
    written = real_scope.client.resource_slices.update(stored)
    assert written.spec is not None and written.spec.devices and written.spec.devices[0].capacity
    assert written.spec.devices[0].capacity["memory"].value == "40Gi"
    assert slice_content(written) == slice_content(stored)
    # The publisher sees the server's spelling as the same content: nothing to write.
    assert publisher.sync().writes == 0


def _fallback_run(kube: KubeClient, node: str) -> tuple[SharingMode, dict[str, Any], list[str]]:
    """Publish ``auto`` on a fresh node; the mode, the slices' content and the Node Events."""
    devices = _devices(node, "h200x8")
    publisher = _publisher(kube, node, devices, SharingMode.AUTO)
    result = publisher.sync()
    assert publisher.sync().writes == 0
    events = kube.events.list("default", field_selector=f"involvedObject.name={node}").items
    messages = sorted(f"{e.reason}: {e.message}" for e in events if e.reason == "SharingModeFallback")
    contents = {
        name.removeprefix(node): content for name, content in _contents(_stored(kube, publisher)).items()
    }
    for content in contents.values():
        content["pool"]["name"] = "<node>"
        content["nodeName"] = "<node>"
    return result.mode, contents, [m.replace(node, "<node>") for m in messages]


@pytest.mark.parametrize(
    ("gates", "expected"),
    [
        ({FeatureGate.DRA_CONSUMABLE_CAPACITY: False}, SharingMode.PARTITIONS),
        (
            {FeatureGate.DRA_CONSUMABLE_CAPACITY: False, FeatureGate.DRA_PARTITIONABLE_DEVICES: False},
            SharingMode.REPLICAS,
        ),
    ],
    ids=["no-consumable-capacity", "no-consumable-capacity-no-partitionable-devices"],
)
def test_auto_falls_back_as_on_the_dev_cluster(
    tmp_path: Path, gates: dict[FeatureGate, bool], expected: SharingMode
) -> None:
    real = start_real_cluster(tmp_path / "real", {str(gate): on for gate, on in gates.items()})
    try:
        real.create_node("fallback")
        real_mode, real_slices, real_events = _fallback_run(real.client, "fallback")
    finally:
        real.stop()
    assert_fully_stopped(real)

    with DevCluster(feature_gates=gates) as dev:
        dev.create_node("fallback")
        with KubeClient.from_kubeconfig(dev.write_kubeconfig(tmp_path / "dev.kubeconfig")) as kube:
            dev_mode, dev_slices, dev_events = _fallback_run(kube, "fallback")

    assert real_mode is expected
    assert (real_mode, real_events) == (dev_mode, dev_events)
    assert real_events, "the fallback must be announced by a Node Event"
    assert real_slices == dev_slices


def test_a_health_taint_on_a_full_slice_stays_within_the_limit(real_scope: RealScope) -> None:
    node = real_scope.node("full")
    devices = _devices(node, "h200x8")  # 8 cards x 16 replicas = 128 devices: one full slice
    options = SliceOptions(replicas=16)
    current = list(devices)
    publisher = SlicePublisher(
        real_scope.client,
        driver=DRIVER_FOR_BACKEND[devices[0].vendor],
        node_name=node,
        devices=lambda: current,
        mode=SharingMode.REPLICAS,
        options=options,
    )
    publisher.sync()
    before = _stored(real_scope.client, publisher)
    assert [len(s.spec.devices or []) for s in before.values() if s.spec] == [128]

    current[3] = current[3].model_copy(update={"healthy": False, "health_message": "XID 79"})
    result = publisher.sync()
    assert result.writes, "the taint must be published"
    after = _stored(real_scope.client, publisher)
    sizes = sorted(len(s.spec.devices or []) for s in after.values() if s.spec)
    assert sum(sizes) == 128
    assert max(sizes) <= 64, f"a slice with taints holds at most 64 devices, got {sizes}"
    tainted = [
        d.name
        for s in after.values()
        if s.spec
        for d in s.spec.devices or []
        if any(t.key == f"{publisher.driver}/unhealthy" for t in d.taints or [])
    ]
    assert sorted(tainted) == sorted(f"gpu-3-r{j}" for j in range(16))
    assert publisher.sync().writes == 0
