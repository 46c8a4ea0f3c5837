"""The launcher itself: four real components, the pinned release, real RBAC, Ready kubelet-less
Nodes, and a start that fails leaving nothing behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from kubernetes import client, config

from dra_driver.realcluster import RealCluster, RealClusterError
from tests.realcluster.support import assert_fully_stopped
from tests.support.realcluster import RealScope

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]


def test_four_components_serve_the_pinned_release(real_cluster: RealCluster) -> None:
    assert sorted(real_cluster.processes) == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    assert all(p.exit_code() is None for p in real_cluster.processes.values())
    version = client.VersionApi(real_cluster.client.api_client).get_code()
    assert (version.git_version, version.major, version.minor) == ("v1.36.3", "1", "36")
    groups = client.ApisApi(real_cluster.client.api_client).get_api_versions()
    resource = next(g for g in groups.groups if g.name == "resource.k8s.io")
    assert resource.preferred_version is not None
    assert resource.preferred_version.version == "v1"


def test_nodes_are_ready_and_untainted(real_scope: RealScope) -> None:
    name = real_scope.node("ready")
    node = real_scope.client.nodes.get(name)
    assert node.spec is None or not node.spec.taints
    assert node.status is not None
    conditions = {c.type: c.status for c in node.status.conditions or []}
    assert conditions == {"Ready": "True"}
    assert node.status.allocatable == {"cpu": "64", "memory": "512Gi", "pods": "110"}


def test_rbac_is_real_the_scheduler_identity_is_not_admin(real_cluster: RealCluster) -> None:
    path = real_cluster.component_kubeconfig("probe-scheduler", "system:kube-scheduler")
    with config.new_client_from_config(str(path)) as api:  # type: ignore[no-untyped-call]
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
        )
        assert review.status is not None
        assert review.status.user_info is not None
        assert review.status.user_info.username == "system:kube-scheduler"
        core = client.CoreV1Api(api)
        assert core.list_node().items is not None  # granted by its bootstrap ClusterRole
        with pytest.raises(client.ApiException) as denied:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="not-allowed")))
        assert denied.value.status == 403
        assert "system:kube-scheduler" in json.loads(denied.value.body or "{}")["message"]


def test_a_component_that_cannot_start_fails_with_its_log_and_leaves_nothing(tmp_path: Path) -> None:
    cluster = RealCluster(feature_gates={"NoSuchGate": True}, work_dir=tmp_path)
    with pytest.raises(RealClusterError) as failed:
        cluster.start()
    message = str(failed.value)
    assert message.startswith("kube-apiserver exited with status 1 during start-up"), message
    assert "NoSuchGate" in message
    assert "\n" not in message
    assert_fully_stopped(cluster)


def test_a_port_taken_before_a_component_binds_it_is_chosen_anew(tmp_path: Path) -> None:
    cluster = RealCluster(work_dir=tmp_path)
    taken = cluster.ports.scheduler
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            cluster.start()
            assert cluster.ports.scheduler != taken
            assert (tmp_path / "kube-scheduler.log.1").is_file()
            assert "address already in use" in (tmp_path / "kube-scheduler.log.1").read_text()
            assert cluster.processes["kube-scheduler"].exit_code() is None
        finally:
            cluster.stop()
    assert_fully_stopped(cluster)
