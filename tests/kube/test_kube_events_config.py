"""Best-effort Events and loading the cluster configuration."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from dra_driver.devcluster import DevCluster, FaultRule
from dra_driver.kube import KubeClient, KubeConfigError, node_reference
from dra_driver.kube.models import ObjectReference


def test_event_about_a_namespaced_object_lands_in_its_namespace(client: KubeClient) -> None:
    claim = ObjectReference(
        api_version="resource.k8s.io/v1", kind="ResourceClaim", name="c1", namespace="kube-system", uid="u-1"
    )
    recorded = client.record_event(claim, reason="Prepared", message="claim c1 prepared on node-a")
    assert recorded is not None
    events = client.events.list("kube-system").items
    assert len(events) == 1
    event = events[0]
    assert (event.reason, event.message, event.type) == ("Prepared", "claim c1 prepared on node-a", "Normal")
    assert event.involved_object.name == "c1"
    assert event.involved_object.uid == "u-1"
    assert event.source is not None
    assert event.source.component == "hdra"


def test_event_about_a_node_lands_in_default(client: KubeClient) -> None:
    client.record_event(
        node_reference("node-a"), reason="DeviceUnhealthy", message="gpu-0 lost", type="Warning"
    )
    events = client.events.list("default").items
    assert [(e.reason, e.type, e.involved_object.kind, e.involved_object.name) for e in events] == [
        ("DeviceUnhealthy", "Warning", "Node", "node-a")
    ]


def test_event_failures_are_logged_not_raised(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.faults.add(FaultRule(method="POST", path_regex=r"events", status=500, count=100))
    with caplog.at_level(logging.WARNING, logger="hdra.kube"):
        assert client.record_event(node_reference("node-a"), reason="Probe", message="m") is None
    assert any(
        "could not record Normal event 'Probe' about Node default/node-a" in r.getMessage()
        for r in caplog.records
    )


def test_event_to_an_unreachable_server_returns_quickly(cluster: DevCluster, client: KubeClient) -> None:
    cluster.stop()
    started = time.monotonic()
    assert client.record_event(node_reference("node-a"), reason="Probe", message="m") is None
    assert time.monotonic() - started < 10.0


def test_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "kubeconfig"
    with pytest.raises(KubeConfigError, match=str(missing)):
        KubeClient.from_kubeconfig(missing)


def test_unknown_context_is_named(kubeconfig: Path) -> None:
    with pytest.raises(KubeConfigError, match="no-such-context"):
        KubeClient.from_kubeconfig(kubeconfig, context="no-such-context")


def test_default_kubeconfig_is_used_outside_a_cluster(
    kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(kubeconfig.read_text())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with KubeClient.from_kubeconfig() as connected:
        assert connected.nodes.list().items == ()


def test_no_configuration_at_all_names_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(KubeConfigError) as missing:
        KubeClient.from_kubeconfig()
    assert "in-cluster config" in str(missing.value)
    assert ".kube/config" in str(missing.value)
