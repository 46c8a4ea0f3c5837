"""Pytest fixtures for the real control plane (``dra_driver.realcluster``), marker ``realcluster``.

``real_cluster`` is one RealCluster per test session (release-default feature gates, the
scheduler configured with hdra's extender at ``real_cluster.extender_port``), started on first use
and shared, because a start costs tens of seconds. Tests keep out of each other's way
with ``real_scope``: unique Node names and a namespace of their own, and whatever they created
there deleted afterwards. A binary that is not built, or a component that does not start, fails
every test that asks for the cluster with the cause (never a skip).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api, V1DeleteOptions
from kubernetes.client.exceptions import ApiException

from dra_driver.cli.common import format_table
from dra_driver.kube import KubeClient, KubeError
from dra_driver.kube.models import Namespace, ObjectMeta
from dra_driver.realcluster import RealCluster, RealClusterError
from dra_driver.realcluster.processes import free_port

_counter = itertools.count()
# Tables the realcluster tests print at the end of the session (title -> text), e.g. the examples'
# placements; pytest_terminal_summary shows them whether the tests passed or not.
_TABLES: dict[str, str] = {}


def report_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Show ``rows`` under ``title`` in the session's terminal summary (a later call replaces it)."""
    _TABLES[title] = format_table(headers, rows)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, text in _TABLES.items():
        terminalreporter.section(title)
        terminalreporter.write_line(text)


def start_real_cluster(
    work_dir: Path, gates: dict[str, bool] | None = None, extender_port: int | None = None
) -> RealCluster:
    """Start a RealCluster or fail the test with the launcher's one-line cause."""
    try:
        return RealCluster(feature_gates=gates, work_dir=work_dir, extender_port=extender_port).start()
    except RealClusterError as exc:
        pytest.fail(f"the real control plane did not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    # The scheduler asks hdra's extender at this port; the scheduling tests start `hdra controller` there.
    cluster = start_real_cluster(tmp_path_factory.mktemp("realcluster"), extender_port=free_port())
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class RealScope:
    """One test's corner of the shared cluster: its own names, namespace and clean-up."""

    cluster: RealCluster
    prefix: str
    namespace: str
    nodes: list[str] = field(default_factory=list)

    @property
    def client(self) -> KubeClient:
        return self.cluster.client

    def node(self, suffix: str) -> str:
        """Create a Ready Node ``<prefix>-<suffix>``; deleted (and its slices with it) afterwards."""
        name = f"{self.prefix}-{suffix}"
        self.cluster.create_node(name)
        self.nodes.append(name)
        return name

    def close(self) -> None:
        core = CoreV1Api(self.client.api_client)
        with contextlib.suppress(ApiException):
            core.delete_collection_namespaced_pod(
                self.namespace, grace_period_seconds=0, body=V1DeleteOptions(grace_period_seconds=0)
            )
        with contextlib.suppress(KubeError):
            self.client.resource_claims.delete_collection(self.namespace)
        for node in self.nodes:
            # Also slices written without the Node as owner (which the garbage collector would
            # leave): a later test may list every slice of a driver.
            with contextlib.suppress(KubeError):
                self.client.resource_slices.delete_collection(field_selector=f"spec.nodeName={node}")
            with contextlib.suppress(KubeError):
                self.client.nodes.delete(node)


@pytest.fixture
def real_scope(real_cluster: RealCluster) -> Iterator[RealScope]:
    prefix = f"t{next(_counter)}-{uuid.uuid4().hex[:6]}"
    namespace = f"{prefix}-ns"
    real_cluster.client.namespaces.create(Namespace(metadata=ObjectMeta(name=namespace)))
    scope = RealScope(real_cluster, prefix, namespace)
    try:
        yield scope
    finally:
        scope.close()
