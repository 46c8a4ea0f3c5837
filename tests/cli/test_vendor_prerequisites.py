"""A vendor node without the host software its sharing needs: the plugin says so (log and Event)
and publishes whole cards only, never shares it cannot enforce (DESIGN §12)."""

from __future__ import annotations

from pathlib import Path

from dra_driver.interception import InterceptionSettings, sharing_prerequisites
from dra_driver.kube import KubeClient
from tests.devices.vendor_tools import tool_script
from tests.support.processes import HDRA, Process, plugin_dirs, start_devcluster, wait_for


def test_each_vendor_names_what_it_misses(tmp_path: Path) -> None:
    settings = InterceptionSettings(
        host_library_dir=tmp_path / "lib",
        dev_dir=tmp_path / "dev",
        hyhal_dir=tmp_path / "hyhal",
        hygon_driver_dir=tmp_path / "dtk",
        ascend_vnpu_core_dir=tmp_path / "vnpu",
        ascend_shared_region_dir=tmp_path / "region",
    )
    assert sharing_prerequisites("amd", settings) == [
        f"libamvgpu (AMD memory limits) is missing: no {tmp_path}/lib/libamvgpu.so"
    ]
    assert [m.split(":")[0] for m in sharing_prerequisites("ascend", settings)] == [
        "hami-vnpu-core is missing",
        "hami-vnpu-core's ld.so.preload is missing",
        "hami-vnpu-core's shared region is missing",
    ]
    assert len(sharing_prerequisites("hygon", settings)) == 2
    assert sharing_prerequisites("nvidia", settings) == []
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libamvgpu.so").write_bytes(b"\x7fELF")
    assert sharing_prerequisites("amd", settings) == []


def test_amd_plugin_without_libamvgpu_publishes_whole_cards_and_records_an_event(tmp_path: Path) -> None:
    cluster, kubeconfig = start_devcluster(tmp_path)
    plugin = Process(
        [
            *HDRA, "kubelet-plugin", "--kubeconfig", str(kubeconfig), "--node-name", "node-a",
            "--backend", "amd", "--amd-tool", str(tool_script(tmp_path, "amd")), "--mode", "capacity",
            *plugin_dirs(tmp_path),
        ],
        tmp_path / "plugin.log",
    )  # fmt: skip
    try:
        client = KubeClient.from_kubeconfig(kubeconfig)

        def published() -> bool:
            return bool(client.resource_slices.list().items)

        assert wait_for(published, 20.0), plugin.log.read_text()
        devices = [d for s in client.resource_slices.list().items if s.spec for d in s.spec.devices or []]
        assert sorted(d.name for d in devices) == ["gpu-0", "gpu-1"]  # no shares: whole cards
        assert not any(d.allow_multiple_allocations for d in devices)
        events = [e for e in client.events.list("default").items if e.reason == "SharingPrerequisiteMissing"]
        assert events and "libamvgpu.so" in (events[0].message or "")
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()
        assert cluster.terminate() == 0
    assert "published whole (mode exclusive instead of capacity)" in plugin.log.read_text()
