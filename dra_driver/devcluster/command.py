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

from dra_driver.devcluster.server import DevCluster
from dra_driver.kube.features import FeatureGate, KubeVersion


def serve(
    kubeconfig: Path,
    port: int,
    kube_version: KubeVersion,
    feature_gates: dict[FeatureGate, bool],
    nodes: list[str],
) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit status (0 on a clean stop)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    cluster = DevCluster(kube_version=kube_version, feature_gates=feature_gates, host="127.0.0.1", port=port)
    try:
        cluster.start()
        cluster.write_kubeconfig(kubeconfig)
        for node in nodes:
            cluster.create_node(node)
        sys.stdout.write(f"ready {cluster.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            continue
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
