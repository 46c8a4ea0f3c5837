"""``DevCluster``: the loopback Kubernetes API server that tests, the demo and ``hdra devcluster`` run.

Owns: the lifecycle (start serving in a daemon thread, stop: end watches, shut down the listener,
close every open keep-alive connection so no client keeps talking to a stopped server), the
``/version`` document, the built-in namespaces (``default``, ``kube-system``) and the public test
hooks (``store``, ``faults``, ``stats``, ``create_node``, ``write_kubeconfig``). It must never
implement API semantics (``registry``) or HTTP routing (``handler``).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from dra_driver.devcluster.faults import FaultInjector
from dra_driver.devcluster.handler import ApiHandler
from dra_driver.devcluster.kubeconfig import write_kubeconfig
from dra_driver.devcluster.registry import Registry, ensure_namespace, now
from dra_driver.devcluster.resources import NAMESPACES, NODES
from dra_driver.devcluster.stats import RequestStats
from dra_driver.devcluster.store import Store
from dra_driver.kube.features import DEFAULT_VERSION, FeatureGate, KubeVersion, default_feature_gates

log = logging.getLogger("hdra.devcluster")

BUILTIN_NAMESPACES = ("default", "kube-system")


class DevClusterHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its cluster and the sockets of open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cluster: DevCluster) -> None:
        self.cluster = cluster
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, ApiHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is normal (a stopped plugin's watch); anything else is a bug."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            log.debug("client %s went away mid-request", client_address)
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, opened: bool) -> None:
        with self._open_lock:
            if opened:
                self._open.add(conn)
            else:
                self._open.discard(conn)

    def close_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class DevCluster:
    """A strict in-process Kubernetes API server on loopback; see the package docstring."""

    def __init__(
        self,
        kube_version: KubeVersion = DEFAULT_VERSION,
        feature_gates: Mapping[FeatureGate, bool] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bookmark_interval_s: float = 1.0,
        watch_timeout_s: float = 1800.0,
        max_events: int = 100_000,
        seed: int | None = None,
    ) -> None:
        self.kube_version = kube_version
        gates = default_feature_gates(kube_version)
        gates.update(feature_gates or {})
        self.feature_gates: dict[FeatureGate, bool] = gates
        self.bookmark_interval_s = bookmark_interval_s
        self.watch_timeout_s = watch_timeout_s
        self.store = Store(seed=seed, max_events=max_events)
        self.registry = Registry(self.store, kube_version, gates)
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self._host = host
        self._port = port
        self._server: DevClusterHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name in BUILTIN_NAMESPACES:
            ensure_namespace(self.registry, name)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> DevCluster:
        """Bind and serve in a daemon thread; returns once the socket is listening."""
        if self._server is not None:
            raise RuntimeError(f"dev cluster already serving at {self.url}")
        self._server = DevClusterHTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="devcluster", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End all watches, stop accepting, and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self.store.close_all_watches()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DevCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- public surface ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("dev cluster is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def write_kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig for this server (kubectl and ``load_kube_config`` accept it)."""
        return write_kubeconfig(path, self.url)

    def create_node(self, name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Register a Ready Node (labels ``kubernetes.io/hostname`` and ``kubernetes.io/os``)."""
        node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}
        timestamp = now()
        body = {
            "metadata": {"name": name, "labels": node_labels},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "hdra dev cluster node",
                        "lastHeartbeatTime": timestamp,
                        "lastTransitionTime": timestamp,
                    }
                ]
            },
        }
        return self.registry.create(NODES, "", body).copy()

    def create_namespace(self, name: str) -> dict[str, Any]:
        return self.registry.create(NAMESPACES, "", {"metadata": {"name": name}}).copy()

    def version_info(self) -> dict[str, str]:
        major, minor = self.kube_version
        return {
            "major": str(major),
            "minor": str(minor),
            "emulationMajor": str(major),
            "emulationMinor": str(minor),
            "gitVersion": f"v{major}.{minor}.0-hdra",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.25 (hdra dev cluster, Python)",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
