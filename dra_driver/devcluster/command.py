"""``hdra devcluster``: run a dev cluster in the foreground until SIGTERM or SIGINT.

Owns: starting the server on 127.0.0.1, writing the kubeconfig, registering the Node objects,
announcing readiness with exactly one stdout line ``ready <url>`` and a clean stop on a signal.
Argument parsing belongs to ``dra_driver.cli``; this module must never parse argv.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from dra_driver.devcluster.errors import ApiError
from dra_driver.devcluster.server import DevCluster
from dra_driver.kube.features import FeatureGate, KubeVersion
from dra_driver.kube.messages import one_line


class ServeError(Exception):
    """The dev cluster could not start; the message names the cause (port, kubeconfig path, node)."""


def serve(
    kubeconfig: Path,
    port: int,
    kube_version: KubeVersion,
    feature_gates: dict[FeatureGate, bool],
    nodes: list[str],
) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit status (0 on a clean stop).

    Raises ServeError, after stopping what was started, when the port cannot be bound, the
    kubeconfig cannot be written, or the server refuses a node (its upstream-style message).
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    cluster = DevCluster(kube_version=kube_version, feature_gates=feature_gates, host="127.0.0.1", port=port)
    try:
        try:
            cluster.start()
        except OSError as exc:
            raise ServeError(f"cannot listen on 127.0.0.1:{port}: {one_line(exc)}") from None
        try:
            cluster.write_kubeconfig(kubeconfig)
        except OSError as exc:
            raise ServeError(f"cannot write the kubeconfig {kubeconfig}: {one_line(exc)}") from None
        for node in nodes:
            try:
                cluster.create_node(node)
            except ApiError as exc:
                raise ServeError(f"node {node!r}: {exc.message}") from None
        sys.stdout.write(f"ready {cluster.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            continue
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
