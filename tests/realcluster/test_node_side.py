"""The node side against the real control plane (issue 12, "The node side").

A real ``hdra kubelet-plugin`` process publishes a mock node's slices; the dev cluster's fake
kubelet registers it over its registration socket; the pod side of a fake kubelet
(``dra_driver.realcluster.kubelet.PodKubelet``) watches the real API server for pods bound to the
node, waits until ``reservedFor`` holds the pod, and calls NodePrepareResources over the plugin's
socket. The real resourceclaim controller created one claim from a template; the other is a plain
claim; the real scheduler allocated both. Deleting the pod makes the kubelet unprepare (the CDI
spec goes) and delete the pod for good; then the real controllers release the claims: the
template's claim is deleted, the plain claim is deallocated.

Where podman runs (root, podman, runc, busybox-static: ``.ci/run`` installs them), the container is
started with the returned CDI ids and must see the claim's limits.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api

from dra_driver.kube import NotFound
from dra_driver.kube.models import Pod
from dra_driver.realcluster.kubelet import PodKubelet
from tests.realcluster.support import TIMEOUT_S, PluginNode, apply, plugin_node
from tests.support.podman import PODMAN, SYSTEM_CDI_DIR, missing_prerequisite
from tests.support.processes import wait_for
from tests.support.realcluster import RealScope

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

DRIVER = "mock.hdra.io"


@pytest.fixture
def node(real_scope: RealScope, tmp_path: Path) -> Iterator[PluginNode]:
    with plugin_node(real_scope, tmp_path, tmp_path / "cdi", DRIVER) as started:
        yield started


def _workload(node: PluginNode, suffix: str) -> str:
    """A template claim (3000 MiB, 50 %) and a plain claim (whole card) for one pod on ``node``."""
    pod = f"worker-{suffix}"
    exactly = {"deviceClassName": DRIVER, "capacity": {"requests": {"memory": "3000Mi", "cores": "50"}}}
    apply(
        node.scope,
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaimTemplate",
            "metadata": {"name": f"share-{suffix}"},
            "spec": {"spec": {"devices": {"requests": [{"name": "gpu", "exactly": exactly}]}}},
        },
    )
    apply(
        node.scope,
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": f"plain-{suffix}"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": DRIVER}}]}},
        },
    )
    apply(
        node.scope,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": node.name},
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "resources": {"claims": [{"name": "share"}, {"name": "plain"}]},
                    }
                ],
                "resourceClaims": [
                    {"name": "share", "resourceClaimTemplateName": f"share-{suffix}"},
                    {"name": "plain", "resourceClaimName": f"plain-{suffix}"},
                ],
            },
        },
    )
    return pod


def _uid(node: PluginNode, pod: str) -> str:
    uid = node.scope.client.pods.get(node.scope.namespace, pod).metadata.uid  # type: ignore[union-attr]
    assert uid
    return uid


def _env_of_spec(cdi_dir: Path, claim_uid: str) -> dict[str, str]:
    specs = [p for p in cdi_dir.glob("*.json") if claim_uid in p.name]
    assert len(specs) == 1, f"one CDI spec for claim {claim_uid} expected in {cdi_dir}: {specs}"
    spec = json.loads(specs[0].read_text())
    env: dict[str, str] = {}
    for edits in [spec.get("containerEdits") or {}, *[d["containerEdits"] for d in spec["devices"]]]:
        for item in edits.get("env") or []:
            key, _, value = item.partition("=")
            env[key] = value
    return env


def _delete_and_check_release(node: PluginNode, pod: str, kubelet: PodKubelet, uid: str) -> None:
    scope = node.scope
    CoreV1Api(scope.client.api_client).delete_namespaced_pod(pod, scope.namespace)  # graceful, as kubectl
    record = kubelet.wait(uid, lambda r: r.unprepared, TIMEOUT_S, "unprepared")
    assert not [
        p for p in node.cdi_dir.glob("*.json") if any(r.uid in p.name for r in record.claims.values())
    ]

    def gone() -> bool:
        try:
            scope.client.pods.get(scope.namespace, pod)
        except NotFound:
            return True
        return False

    assert wait_for(gone, TIMEOUT_S, 0.2), "the kubelet must delete the terminating pod with grace period 0"
    share = record.claims["share"].name
    plain = record.claims["plain"].name

    def released() -> bool:
        try:
            scope.client.resource_claims.get(scope.namespace, share)
        except NotFound:
            claim = scope.client.resource_claims.get(scope.namespace, plain)
            return claim.status is None or (not claim.status.reserved_for and claim.status.allocation is None)
        return False

    assert wait_for(released, TIMEOUT_S, 0.2), (
        "the real resourceclaim controller must delete the template's claim and deallocate the plain one: "
        f"{scope.client.resource_claims.list(scope.namespace).items}"
    )


def test_pod_is_prepared_after_reservation_and_released_after_deletion(node: PluginNode) -> None:
    with PodKubelet(node.scope.client, node.name, node.fake) as kubelet:
        pod = _workload(node, "a")
        uid = _uid(node, pod)
        record = kubelet.wait(uid, lambda r: bool(r.prepared) and not r.error, TIMEOUT_S, "prepared")
        share_uid = record.claims["share"].uid
        plain_uid = record.claims["plain"].uid
        # The real scheduler allocated both claims on this node's pool and reserved them for the pod.
        listed = node.scope.client.resource_claims.list(node.scope.namespace).items
        claims = {c.metadata.name: c for c in listed if c.metadata is not None}
        for ref in record.claims.values():
            claim = claims[ref.name]
            assert claim.status is not None and claim.status.allocation is not None
            assert [r.uid for r in claim.status.reserved_for or []] == [uid]
            assert {r.pool for r in claim.status.allocation.devices.results} == {node.name}  # type: ignore[union-attr]
        share_env = _env_of_spec(node.cdi_dir, share_uid)
        assert share_env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"
        assert share_env["CUDA_DEVICE_SM_LIMIT_0"] == "50"
        plain_env = _env_of_spec(node.cdi_dir, plain_uid)
        assert "CUDA_DEVICE_MEMORY_LIMIT_0" not in plain_env, "a whole card gets no interception"
        pod_obj: Pod = node.scope.client.pods.get(node.scope.namespace, pod)
        assert pod_obj.status is not None and pod_obj.status.phase == "Running"
        _delete_and_check_release(node, pod, kubelet, uid)


@pytest.mark.skipif(missing_prerequisite() is not None, reason=str(missing_prerequisite()))
def test_podman_container_sees_the_limits_of_the_real_allocation(
    real_scope: RealScope, tmp_path: Path, rootfs: Path
) -> None:
    seen: dict[str, str] = {}

    def run(pod: Pod, cdi: Mapping[str, tuple[str, ...]]) -> None:
        devices = [flag for ids in cdi.values() for i in ids for flag in ("--device", i)]
        done = subprocess.run(
            [*PODMAN, *devices, "--rootfs", str(rootfs), "/bin/sh", "-c", "env"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"podman exited {done.returncode}: {done.stderr.strip()}")
        seen.update(line.partition("=")[::2] for line in done.stdout.splitlines() if "=" in line)

    with (
        plugin_node(real_scope, tmp_path, SYSTEM_CDI_DIR, DRIVER) as node,
        PodKubelet(node.scope.client, node.name, node.fake, run=run) as kubelet,
    ):
        pod = _workload(node, "podman")
        uid = _uid(node, pod)
        kubelet.wait(uid, lambda r: bool(r.prepared) or bool(r.error), TIMEOUT_S, "prepared")
        record = kubelet.record(uid)
        assert record is not None and not record.error, record
        assert seen["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"
        assert seen["CUDA_DEVICE_SM_LIMIT_0"] == "50"
        _delete_and_check_release(node, pod, kubelet, uid)
