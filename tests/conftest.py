"""Fixtures shared by every test area: a started dev cluster and a KubeClient bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.kube import KubeClient

pytest_plugins = ["tests.support.podman"]  # the busybox rootfs fixture for podman tests


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
