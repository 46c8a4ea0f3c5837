"""Helpers shared by the real-cluster tests: ``kubectl apply``, a Node with a real node plugin
registered with the fake kubelet, and the check that nothing of a stopped cluster survives."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.realcluster import RealCluster
from dra_driver.realcluster.processes import port_open
from tests.examples.support import device_class
from tests.support.podman import install_cdi_hook
from tests.support.processes import HDRA, Process, plugin_dirs
from tests.support.realcluster import RealScope

TIMEOUT_S = 60.0


def apply(scope: RealScope, obj: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
    """``kubectl apply`` ``obj`` into the scope's namespace; asserts success."""
    done = kubectl_apply(scope.cluster, scope.namespace, obj)
    assert done.returncode == 0, done.stderr
    return done


def kubectl_apply(
    cluster: RealCluster, namespace: str, obj: Mapping[str, Any]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-n", namespace, "-f", "-"],
        input=json.dumps(obj),
        capture_output=True,
        text=True,
        check=False,
    )


@dataclasses.dataclass
class PluginNode:
    scope: RealScope
    name: str
    cdi_dir: Path
    fake: FakeKubelet


@contextlib.contextmanager
def plugin_node(
    scope: RealScope, tmp_path: Path, cdi_dir: Path, driver: str, *, profile: str = "a100x4"
) -> Iterator[PluginNode]:
    """A Ready Node whose real ``hdra kubelet-plugin`` (mock ``profile``, capacity mode, ``driver``)
    is registered with a fake kubelet; the chart's DeviceClass of ``driver`` exists."""
    name = scope.node("plugin")
    apply(scope, device_class(driver))
    dirs = plugin_dirs(tmp_path)
    dirs[dirs.index("--cdi-dir") + 1] = str(cdi_dir)
    kubeconfig = str(scope.cluster.kubeconfig)
    argv = [*HDRA, "kubelet-plugin", "--kubeconfig", kubeconfig, "--node-name", name, "--backend", "mock"]
    argv += ["--profile", profile, "--mode", "capacity", "--driver", driver, *dirs]
    # What the chart's init container does: hdra's CDI hook next to the library, run by a host Python.
    hook_python = install_cdi_hook(Path(dirs[dirs.index("--library-dir") + 1]))
    argv += ["--hook-python", str(hook_python)]
    plugin = Process(argv, tmp_path / "plugin.log")
    fake = FakeKubelet(tmp_path / "plugins_registry")
    try:
        with fake:
            fake.wait_for_plugin(driver, timeout=TIMEOUT_S)
            yield PluginNode(scope, name, cdi_dir, fake)
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()


def assert_fully_stopped(cluster: RealCluster) -> None:
    """Every component exited, no process of its group is left, and no port still listens."""
    for name, process in cluster.processes.items():
        assert process.exit_code() is not None, f"{name} (pid {process.pid}) still runs"
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            pass
        else:
            raise AssertionError(f"process group of {name} (pgid {process.pid}) still has members")
    for field in dataclasses.fields(cluster.ports):
        port = getattr(cluster.ports, field.name)
        assert not port_open(port), f"{field.name} port {port} still accepts connections"
