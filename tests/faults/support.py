"""Support for the fault tests: an in-process node (slice controller + NodePreparer) and fault helpers.

Owns: ``FaultNode`` (a dev cluster node whose mock cards are published by a running
``SliceController`` and prepared by a ``NodePreparer`` writing under tmp_path), ``snapshot`` (the
stored slices of the node, read from the store) and ``disturb`` (adding ``FaultRule``s). It must
never sleep for a fixed time to "let a fault pass": tests wait on an observable condition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore
from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.devcluster import DevCluster, FaultRule
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import InterceptionSettings
from dra_driver.kube import KubeClient, RetryPolicy
from dra_driver.prepare import ClaimRef, DeviceCatalog, NodePreparer, PreparerSettings
from dra_driver.slices import SharingMode
from tests.support.claims import ClaimSpec, Result, create_allocated_claim

NODE = "node-a"
DRIVER = "mock.hdra.io"
SLICE_RESOURCE = "resourceslices.resource.k8s.io"  # the store's key: <plural>.<group>
# Small budgets keep the tests fast; the shape (attempts, deadline, Retry-After) is the production one.
FAST_RETRY = RetryPolicy(
    attempts=4, deadline_s=8.0, backoff_initial_s=0.02, backoff_max_s=0.2, request_timeout_s=1.0
)
KUBELET_DEADLINE_S = 45.0


def snapshot(cluster: DevCluster) -> dict[str, Any]:
    """The node's stored slices by name (spec only), read from the store itself so that the
    test's own reads never meet, or use up, an injected fault."""
    return {
        e.obj["metadata"]["name"]: e.obj["spec"]
        for e in cluster.store.entries(SLICE_RESOURCE)
        if e.obj["spec"].get("nodeName") == NODE and e.obj["spec"].get("driver") == DRIVER
    }


def disturb(cluster: DevCluster, *rules: FaultRule) -> list[FaultRule]:
    return [cluster.faults.add(rule) for rule in rules]


@dataclass
class FaultNode:
    cluster: DevCluster
    kube: KubeClient
    controller: SliceController
    preparer: NodePreparer
    devices: list[AcceleratorDevice]  # mutated in place by tests; the publisher reads it every sync
    tmp: Path

    def wanted(self) -> dict[str, Any]:
        """What the publisher wants stored: its last published slices, by name."""
        return {
            s.metadata.name: s.spec.model_dump(by_alias=True, exclude_none=True, mode="json")
            for s in self.controller.publisher.published_slices
            if s.metadata is not None and s.metadata.name is not None and s.spec is not None
        }

    def converged(self) -> bool:
        """Stored slices equal what the publisher wants, and that covers today's device list."""
        stored = snapshot(self.cluster)
        devices = sum(len(spec.get("devices", [])) for spec in stored.values())
        return self.controller.last_error is None and stored == self.wanted() and devices == len(self.devices)

    def claim(self, name: str) -> ClaimRef:
        consumed = {"memory": "3000Mi", "cores": "50", "shares": "1"}
        spec = ClaimSpec(name, [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))], node=NODE)
        created = create_allocated_claim(self.kube, spec)
        assert created.metadata is not None and created.metadata.uid is not None
        return ClaimRef(created.metadata.uid, "default", name)


def start_fault_node(cluster: DevCluster, tmp: Path) -> FaultNode:
    """Node + running controller (resync 60 s: repairs must come from the watch) + preparer."""
    cluster.create_node(NODE)
    kube = KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp / "kubeconfig"), retry=FAST_RETRY)
    devices = make_backend("mock", node_name=NODE, profile="a100x4").discover()
    publisher = SlicePublisher(
        kube, driver=DRIVER, node_name=NODE, devices=lambda: list(devices), mode=SharingMode.CAPACITY
    )
    controller = SliceController(publisher, resync_seconds=60.0, max_backoff_seconds=0.5)
    controller.start()
    boot_id = tmp / "boot_id"
    boot_id.write_text("11111111-2222-3333-4444-555555555555\n")
    settings = PreparerSettings(
        driver=DRIVER,
        node_name=NODE,
        vendor="mock",
        with_library=False,
        interception=InterceptionSettings(
            host_library_dir=tmp / "lib", state_dir=tmp / "state", lock_dir=tmp / "vgpulock", visibility="env"
        ),
    )
    preparer = NodePreparer(
        kube,
        settings,
        catalog=lambda: DeviceCatalog.from_slices(devices, publisher.published_slices),
        cdi=CdiWriter(tmp / "cdi"),
        checkpoint=CheckpointStore(tmp / "state", boot_id_path=boot_id),
    )
    return FaultNode(cluster, kube, controller, preparer, devices, tmp)
