"""Fixtures for the dev cluster's own tests: a started server and official-client handles to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from dra_driver.devcluster import DevCluster


@pytest.fixture
def devcluster() -> Iterator[DevCluster]:
    with DevCluster(bookmark_interval_s=0.2) as cluster:
        cluster.create_node("node-a")
        cluster.create_node("node-b")
        yield cluster


@pytest.fixture
def devcluster_kubeconfig(devcluster: DevCluster, tmp_path: Path) -> Path:
    return devcluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_api(devcluster_kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(str(devcluster_kubeconfig))  # type: ignore[no-untyped-call]
    yield api_client
    api_client.close()


@pytest.fixture
def resource_api(kube_api: client.ApiClient) -> client.ResourceV1Api:
    return client.ResourceV1Api(kube_api)


@pytest.fixture
def core_api(kube_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)
