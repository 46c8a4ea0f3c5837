"""Contract tests: the same scenarios through a real kubectl binary and through the official client."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import ClientApi, class_body, slice_body

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def _manifest(tmp_path: Path, name: str, body: dict[str, object]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_version_and_api_resources(devcluster_kubeconfig: Path) -> None:
    assert "Server Version: v1.36.0-hdra" in kubectl(devcluster_kubeconfig, "version").stdout
    result = kubectl(devcluster_kubeconfig, "api-resources")
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for name in (
        "resourceslices",
        "deviceclasses",
        "resourceclaims",
        "resourceclaimtemplates",
        "pods",
        "nodes",
    ):
        assert name in lines, result.stdout
    assert "resource.k8s.io/v1" in lines["resourceslices"] and "false" in lines["resourceslices"]
    assert "po" in lines["pods"].split()
    assert "error" not in result.stderr.lower(), result.stderr


def test_create_get_duplicate_and_delete(
    devcluster_kubeconfig: Path, tmp_path: Path, resource_api: ClientApi
) -> None:
    manifest = _manifest(tmp_path, "slice", slice_body("node-a-slice"))
    created = kubectl(devcluster_kubeconfig, "create", "--validate=false", "-f", str(manifest))
    assert "resourceslice.resource.k8s.io/node-a-slice created" in created.stdout
    assert resource_api.read_resource_slice("node-a-slice").spec.node_name == "node-a"  # the client sees it
    duplicate = kubectl(devcluster_kubeconfig, "create", "--validate=false", "-f", str(manifest), check=False)
    assert duplicate.returncode != 0
    assert "(AlreadyExists)" in duplicate.stderr
    resource_api.create_resource_slice(slice_body("node-b-slice", node="node-b"))  # and kubectl sees this
    jsonpath = "-o=jsonpath={.items[*].metadata.name}"
    selected = kubectl(
        devcluster_kubeconfig, "get", "resourceslices", "--field-selector", "spec.nodeName=node-b", jsonpath
    )
    assert selected.stdout == "node-b-slice"
    device = kubectl(
        devcluster_kubeconfig,
        "get",
        "resourceslices",
        "--field-selector",
        "spec.nodeName=node-a",
        "-o=jsonpath={.items[0].spec.devices[0].name}",
    )
    assert device.stdout == "gpu-0"
    unsupported = kubectl(
        devcluster_kubeconfig, "get", "resourceslices", "--field-selector", "spec.pool.name=x", check=False
    )
    assert (
        "field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: spec.pool.name"
        in unsupported.stderr
    )
    deleted = kubectl(devcluster_kubeconfig, "delete", "resourceslice", "node-a-slice")
    assert 'resourceslice.resource.k8s.io "node-a-slice" deleted' in deleted.stdout
    assert [s.metadata.name for s in resource_api.list_resource_slice().items] == ["node-b-slice"]


def test_client_side_apply_created_unchanged_configured(
    devcluster_kubeconfig: Path, tmp_path: Path, resource_api: ClientApi
) -> None:
    body = class_body()
    manifest = _manifest(tmp_path, "class", body)
    args = ("apply", "--validate=false", "-f", str(manifest))
    assert (
        "deviceclass.resource.k8s.io/gpu.example.com created" in kubectl(devcluster_kubeconfig, *args).stdout
    )
    assert (
        "deviceclass.resource.k8s.io/gpu.example.com unchanged"
        in kubectl(devcluster_kubeconfig, *args).stdout
    )
    body["spec"]["selectors"][0]["cel"]["expression"] = "true"
    _manifest(tmp_path, "class", body)
    assert (
        "deviceclass.resource.k8s.io/gpu.example.com configured"
        in kubectl(devcluster_kubeconfig, *args).stdout
    )
    stored = resource_api.read_device_class("gpu.example.com")
    assert stored.spec.selectors[0].cel.expression == "true"
    assert stored.metadata.generation == 2


def test_server_side_apply_is_refused(devcluster_kubeconfig: Path, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "class", class_body())
    result = kubectl(
        devcluster_kubeconfig, "apply", "--server-side", "--validate=false", "-f", str(manifest), check=False
    )
    assert result.returncode != 0
    assert "server-side apply is not modelled" in result.stderr


def test_get_watch_reports_added_and_deleted(
    devcluster: DevCluster, devcluster_kubeconfig: Path, resource_api: ClientApi
) -> None:
    assert KUBECTL is not None
    resource_api.create_resource_slice(slice_body("node-a-slice"))
    command = [KUBECTL, "--kubeconfig", str(devcluster_kubeconfig), "get", "resourceslices", "-w"]
    process = subprocess.Popen([*command, "--output-watch-events"], stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        seen: list[list[str]] = []
        while not any(row[:2] == ["ADDED", "node-a-slice"] for row in seen):
            seen.append(lines.get(timeout=20).split())
        resource_api.delete_resource_slice("node-a-slice")
        while not any(row[:2] == ["DELETED", "node-a-slice"] for row in seen):
            seen.append(lines.get(timeout=20).split())
    finally:
        process.terminate()
        process.wait(timeout=10)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_apply_an_example_with_kubectls_default_validation(devcluster_kubeconfig: Path) -> None:
    """Issue 18 item 2: without ``/openapi/v3`` kubectl failed ("failed to download openapi") unless
    ``--validate=false``; with it, kubectl leaves field validation to the server."""
    result = kubectl(devcluster_kubeconfig, "apply", "-f", str(EXAMPLES / "inference-1-card"))
    assert "resourceclaimtemplate.resource.k8s.io/chat-share created" in result.stdout
    assert "pod/chat-inference created" in result.stdout
    explained = kubectl(devcluster_kubeconfig, "explain", "resourceclaim.spec.devices.requests.exactly.count")
    assert "FIELD: count <integer>" in explained.stdout


def test_server_side_field_validation_refuses_a_typo(devcluster_kubeconfig: Path, tmp_path: Path) -> None:
    body = class_body()
    body["spec"]["selectorz"] = []
    result = kubectl(
        devcluster_kubeconfig, "apply", "-f", str(_manifest(tmp_path, "typo", body)), check=False
    )
    assert result.returncode != 0
    assert "('selectorz' was unexpected)" in result.stderr
