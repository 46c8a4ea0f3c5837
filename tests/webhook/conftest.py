"""Fixtures for the webhook tests: certificates, servers, and a dev cluster with mixed NVIDIA slices.

``cluster`` and ``kube`` come from tests/conftest.py. ``published`` puts the mock "mixed" node
(2 x A100 40 GiB, 2 x V100 32 GiB, 4 x H200 141 GiB) into the cluster as nvidia.hdra.io slices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient, RetryPolicy
from dra_driver.slices import SharingMode
from dra_driver.webhook import WebhookServer
from tests.webhook.support import CertPair, make_cert

NODE = "gpu-node-a"
FAST = RetryPolicy(
    attempts=2, deadline_s=5.0, backoff_initial_s=0.01, backoff_max_s=0.05, request_timeout_s=3.0
)


@pytest.fixture
def certs(tmp_path: Path) -> CertPair:
    return make_cert(tmp_path / "tls", serial=1001)


@pytest.fixture
def fast_kube(kubeconfig: Path) -> Iterator[KubeClient]:
    with KubeClient.from_kubeconfig(kubeconfig, retry=FAST) as client:
        yield client


@pytest.fixture
def published(cluster: DevCluster, fast_kube: KubeClient) -> list[AcceleratorDevice]:
    """The mixed node's cards, published as nvidia.hdra.io ResourceSlices in capacity mode."""
    devices = make_backend("mock", node_name=NODE, profile="mixed").discover()
    cluster.create_node(NODE)
    publisher = SlicePublisher(
        fast_kube, driver="nvidia.hdra.io", node_name=NODE, devices=lambda: devices, mode=SharingMode.CAPACITY
    )
    assert publisher.sync().writes > 0
    return devices


@pytest.fixture
def server(certs: CertPair) -> Iterator[WebhookServer]:
    """A webhook without an API client."""
    with WebhookServer(certs.cert, certs.key, host="127.0.0.1", port=0) as started:
        yield started


@pytest.fixture
def api_server(certs: CertPair, fast_kube: KubeClient) -> Iterator[WebhookServer]:
    """A webhook bound to the dev cluster."""
    with WebhookServer(certs.cert, certs.key, host="127.0.0.1", port=0, kube=fast_kube) as started:
        yield started
