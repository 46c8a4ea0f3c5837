"""A node with published mock cards and a NodePreparer writing under tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore
from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import InterceptionSettings
from dra_driver.kube import KubeClient
from dra_driver.prepare import DeviceCatalog, NodePreparer, PreparerSettings
from dra_driver.slices import SharingMode

NODE = "node-a"
DRIVER = "mock.hdra.io"


@dataclass
class Node:
    kube: KubeClient
    cluster: DevCluster
    devices: list[AcceleratorDevice]
    publisher: SlicePublisher
    cdi_dir: Path
    state_dir: Path
    boot_id: Path
    settings: PreparerSettings

    def preparer(self) -> NodePreparer:
        return NodePreparer(
            self.kube,
            self.settings,
            catalog=lambda: DeviceCatalog.from_slices(self.devices, self.publisher.published_slices),
            cdi=CdiWriter(self.cdi_dir),
            checkpoint=CheckpointStore(self.state_dir, boot_id_path=self.boot_id),
        )

    def spec_files(self) -> list[Path]:
        return sorted(self.cdi_dir.glob("*.json"))

    def spec(self, claim_uid: str) -> dict[str, Any]:
        (path,) = [p for p in self.spec_files() if claim_uid in p.name]
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded

    def claim_dirs(self) -> list[Path]:
        claims = self.state_dir / "claims"
        return sorted(claims.iterdir()) if claims.exists() else []


MakeNode = Callable[..., Node]


@pytest.fixture
def make_node(cluster: DevCluster, kube: KubeClient, tmp_path: Path) -> MakeNode:
    def build(
        mode: SharingMode = SharingMode.CAPACITY, profile: str = "a100x4", driver: str = DRIVER
    ) -> Node:
        """Mock cards of ``profile`` published by ``driver``; the vendor is the driver's prefix."""
        cluster.create_node(NODE)
        devices = make_backend("mock", node_name=NODE, profile=profile).discover()
        publisher = SlicePublisher(kube, driver=driver, node_name=NODE, devices=lambda: devices, mode=mode)
        publisher.sync()
        boot_id = tmp_path / "boot_id"
        boot_id.write_text("11111111-2222-3333-4444-555555555555\n")
        settings = PreparerSettings(
            driver=driver,
            node_name=NODE,
            vendor=driver.split(".", maxsplit=1)[0],
            with_library=False,
            interception=InterceptionSettings(
                host_library_dir=tmp_path / "lib",
                state_dir=tmp_path / "state",
                lock_dir=tmp_path / "vgpulock",
                visibility="env",
            ),
        )
        return Node(
            kube=kube,
            cluster=cluster,
            devices=devices,
            publisher=publisher,
            cdi_dir=tmp_path / "cdi",
            state_dir=tmp_path / "state",
            boot_id=boot_id,
            settings=settings,
        )

    return build


@pytest.fixture
def node(make_node: MakeNode) -> Node:
    return make_node()
