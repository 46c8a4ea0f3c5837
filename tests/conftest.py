"""Fixtures shared by every test area: a started dev cluster and a KubeClient bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.kube import KubeClient

# The busybox rootfs fixture for podman tests; the shared real control plane (marker realcluster).
pytest_plugins = ["tests.support.podman", "tests.support.realcluster"]


@pytest.fixture
def cluster() -> Iterator[DevCluster]:
    with DevCluster() as started:
        yield started


@pytest.fixture
def kubeconfig(cluster: DevCluster, tmp_path: Path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube(kubeconfig: Path) -> KubeClient:
    return KubeClient.from_kubeconfig(kubeconfig)
