"""Fixtures for the kube adapter tests: fast retry policies and clients bound to the dev cluster.

``cluster`` and ``kubeconfig`` come from tests/conftest.py (a started DevCluster on 127.0.0.1:0).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.kube import KubeClient, RetryPolicy

# Small backoffs keep fault tests fast; the deadline stays generous so slow CI machines do not flake.
FAST_RETRY = RetryPolicy(attempts=4, deadline_s=15.0, backoff_initial_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[KubeClient]:
    with KubeClient.from_kubeconfig(kubeconfig, retry=FAST_RETRY) as connected:
        yield connected


@pytest.fixture
def other_client(kubeconfig: Path) -> Iterator[KubeClient]:
    """A second, independent writer (its own connection pool), for concurrency tests."""
    with KubeClient.from_kubeconfig(kubeconfig, retry=FAST_RETRY) as connected:
        yield connected
