"""Acceptance, as a new user runs it: `hdra devcluster` and `hdra kubelet-plugin` as processes,
`kubectl` deleting a slice, and the plugin repairing it within 2 s."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import HDRA, Process, plugin_dirs, start_devcluster, start_plugin, wait_for

KUBECTL = shutil.which("kubectl")


def kubectl(kubeconfig: Path, *args: str) -> str:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def slice_names(kubeconfig: Path) -> list[str]:
    listing = json.loads(kubectl(kubeconfig, "get", "resourceslices", "-o", "json"))
    return sorted(item["metadata"]["name"] for item in listing["items"])


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, Process]]:
    cluster, kubeconfig = start_devcluster(tmp_path)
    plugin = start_plugin(tmp_path, kubeconfig)
    try:
        yield kubeconfig, plugin
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()
        assert cluster.terminate() == 0, cluster.log.read_text()


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_delete_of_a_slice_is_repaired_within_two_seconds(running: tuple[Path, Process]) -> None:
    kubeconfig, plugin = running
    assert wait_for(lambda: len(slice_names(kubeconfig)) > 0, 20.0), plugin.log.read_text()
    before = slice_names(kubeconfig)
    kubectl(kubeconfig, "delete", "resourceslice", before[0])
    deleted_at = time.monotonic()
    assert wait_for(lambda: slice_names(kubeconfig) == before, 2.0), plugin.log.read_text()
    assert time.monotonic() - deleted_at < 2.5


def test_auto_mode_with_consumable_capacity_off_publishes_partitions_and_says_why(tmp_path: Path) -> None:
    from dra_driver.kube import KubeClient

    cluster, kubeconfig = start_devcluster(tmp_path, "--feature-gates", "DRAConsumableCapacity=false")
    plugin = start_plugin(tmp_path, kubeconfig)
    try:
        client = KubeClient.from_kubeconfig(kubeconfig)

        def partitions_published() -> bool:
            items = client.resource_slices.list().items
            names = [d.name for s in items if s.spec for d in s.spec.devices or []]
            return any("-p2-" in name for name in names)

        assert wait_for(partitions_published, 20.0), plugin.log.read_text()
        events = [e for e in client.events.list("default").items if e.reason == "SharingModeFallback"]
        assert events and "DRAConsumableCapacity" in (events[0].message or "")
    finally:
        assert plugin.terminate() == 0
        assert cluster.terminate() == 0
    assert "DRAConsumableCapacity" in plugin.log.read_text()


def test_plugin_with_unknown_profile_exits_with_the_cause(tmp_path: Path) -> None:
    done = subprocess.run(
        [*HDRA, "kubelet-plugin", "--node-name", "n", "--backend", "mock", "--profile", "z80x1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "z80x1" in done.stderr


def test_health_file_taints_the_card_and_metrics_are_served(tmp_path: Path) -> None:
    import socket
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from dra_driver.kube import KubeClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    health_file = tmp_path / "unhealthy"
    cluster, kubeconfig = start_devcluster(tmp_path)
    plugin = start_plugin(
        tmp_path,
        kubeconfig,
        "--mode", "capacity",
        "--mock-health-file", str(health_file),
        "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
    )  # fmt: skip
    try:
        client = KubeClient.from_kubeconfig(kubeconfig)

        def taints() -> dict[str, list[str]]:
            found: dict[str, list[str]] = {}
            for item in client.resource_slices.list().items:
                for device in (item.spec.devices if item.spec else None) or []:
                    found[device.name] = [t.key for t in device.taints or []]
            return found

        assert wait_for(lambda: len(taints()) == 4, 20.0), plugin.log.read_text()
        health_file.write_text("gpu-2\n")
        assert wait_for(lambda: taints().get("gpu-2") == ["mock.hdra.io/unhealthy"], 2.0)
        assert taints()["gpu-1"] == []
        health_file.write_text("")
        assert wait_for(lambda: taints().get("gpu-2") == [], 2.0)

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            families = {f.name for f in text_string_to_metric_families(answer.read().decode())}
        assert "hdra_plugin_prepared_claims" in families
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()
        assert cluster.terminate() == 0


def test_a_second_plugin_on_the_same_dirs_refuses_and_leaves_the_first_serving(tmp_path: Path) -> None:
    """Issue 18 item 1: the second process took over dra.sock and the registration socket and deleted
    both when it exited, leaving the first unreachable. Now it refuses in one line and touches nothing."""
    cluster, kubeconfig = start_devcluster(tmp_path)
    first = start_plugin(tmp_path, kubeconfig)
    sockets = [
        tmp_path / "plugins" / "mock.hdra.io" / "dra.sock",
        tmp_path / "plugins_registry" / "mock.hdra.io-reg.sock",
    ]
    try:
        assert wait_for(lambda: all(path.exists() for path in sockets), 20.0), first.log.read_text()
        before = [path.stat().st_ino for path in sockets]
        second = subprocess.run(
            [*HDRA, "kubelet-plugin", "--kubeconfig", str(kubeconfig), "--node-name", "node-a",
             "--backend", "mock", "--profile", "a100x4", *plugin_dirs(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hdra: another hdra kubelet-plugin (pid "), lines
        assert f"--state-dir {tmp_path / 'state'}" in lines[0]
        assert [path.stat().st_ino for path in sockets] == before
    finally:
        assert first.terminate() == 0, first.log.read_text()
        assert cluster.terminate() == 0
