"""Simulated nodes for ``hdra demo``: each one runs the real node plugin in this process.

Owns: per node, the device backend, the slice publisher, the NodePreparer writing under the demo's
temp dir, the plugin's gRPC servers on real unix sockets and a fake kubelet that registers the
plugin and calls NodePrepareResources. Nothing here allocates: the demo's scheduler does that.
It must never write outside the directory it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore
from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.kubelet import ClaimPrepareResult, FakeKubelet
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import InterceptionSettings
from dra_driver.kube import KubeClient
from dra_driver.plugin import PluginServer
from dra_driver.prepare import ClaimRef, DeviceCatalog, NodePreparer, PreparerSettings
from dra_driver.slices import SharingMode, SliceOptions


@dataclass
class DemoNode:
    """One simulated node with its own plugin, kubelet and directories."""

    name: str
    profile: str | None
    driver: str
    devices: list[AcceleratorDevice]
    root: Path
    publisher: SlicePublisher
    server: PluginServer
    kubelet: FakeKubelet
    mode: SharingMode = SharingMode.AUTO
    _started: bool = field(default=False, repr=False)

    @property
    def cdi_dir(self) -> Path:
        return self.root / "cdi"

    def prepare(self, claims: list[ClaimRef]) -> dict[str, ClaimPrepareResult]:
        return self.kubelet.prepare(self.driver, claims)


def start_node(
    cluster: DevCluster,
    kube: KubeClient,
    root: Path,
    *,
    name: str,
    backend: str,
    profile: str | None,
    driver: str,
    mode: SharingMode,
    options: SliceOptions,
) -> DemoNode:
    """Create the Node object, publish its slices and bring up its plugin and kubelet."""
    cluster.create_node(name)
    devices = make_backend(backend, node_name=name, profile=profile).discover()
    publisher = SlicePublisher(
        kube, driver=driver, node_name=name, devices=lambda: devices, mode=mode, options=options
    )
    result = publisher.sync()
    node_root = root / name
    interception = InterceptionSettings(
        host_library_dir=node_root / "usr-local-hdra",
        state_dir=node_root / "var-lib-hdra",
        lock_dir=node_root / "vgpulock",
        visibility="env",
    )
    settings = PreparerSettings(
        driver=driver,
        node_name=name,
        vendor=driver.split(".", 1)[0],  # the CDI kind hdra.io/<vendor> of DESIGN section 2
        with_library=backend != "mock",
        interception=interception,
    )
    preparer = NodePreparer(
        kube,
        settings,
        catalog=lambda: DeviceCatalog.from_slices(devices, publisher.published_slices),
        cdi=CdiWriter(node_root / "cdi"),
        checkpoint=CheckpointStore(node_root / "var-lib-hdra", boot_id_path=_boot_id(node_root)),
    )
    server = PluginServer(
        driver,
        preparer,
        plugin_dir=node_root / "plugins" / driver,
        registry_dir=node_root / "plugins_registry",
    )
    kubelet = FakeKubelet(node_root / "plugins_registry")
    server.start()
    kubelet.start()
    kubelet.wait_for_plugin(driver, timeout=10.0)
    return DemoNode(
        name=name,
        profile=profile,
        driver=driver,
        devices=devices,
        root=node_root,
        publisher=publisher,
        server=server,
        kubelet=kubelet,
        mode=result.mode,
        _started=True,
    )


def stop_node(node: DemoNode) -> None:
    if node._started:
        node.kubelet.stop()
        node.server.stop()
        node._started = False


def _boot_id(node_root: Path) -> Path:
    """A per-node boot id file: the demo's nodes never reboot."""
    path = node_root / "boot_id"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("00000000-0000-4000-8000-000000000000\n")
    return path
