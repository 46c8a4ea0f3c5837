"""Run hdra's reference control plane (real etcd, kube-apiserver, kube-controller-manager and
kube-scheduler from ``hdra-k8s``) on loopback until Ctrl-C or SIGTERM.

Usage::

    python tools/realcluster.py --kubeconfig /tmp/real.kubeconfig --nodes node-a,node-b \\
        [--feature-gates DRAConsumableCapacity=false] [--work-dir DIR]
    kubectl --kubeconfig /tmp/real.kubeconfig get nodes

It prints ``ready <url>`` on stdout once every component is ready and the Nodes exist, then waits;
on a signal it stops every process. Needs ``make k8s`` (the binary) and the ``dev`` extra
(``cryptography``). Errors are one ``realcluster: <cause>`` line and exit 1. Test support only:
the same ``RealCluster`` runs under the ``realcluster`` pytest marker.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from dra_driver.realcluster import RealCluster, RealClusterError


def _gates(text: str) -> dict[str, bool]:
    """``A=true,B=false`` as given; the components themselves reject names they do not know."""
    gates: dict[str, bool] = {}
    for raw in text.split(","):
        if not raw.strip():
            continue
        name, sep, value = (part.strip() for part in raw.partition("="))
        if not sep or not name or value.lower() not in ("true", "false"):
            raise ValueError(f"invalid item {raw.strip()!r}: expected Name=true|false")
        gates[name] = value.lower() == "true"
    return gates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run a real Kubernetes control plane on loopback")
    parser.add_argument("--kubeconfig", required=True, type=Path, help="where to write the admin kubeconfig")
    parser.add_argument("--nodes", default="", help="comma-separated Ready Nodes to create, e.g. n1,n2")
    parser.add_argument(
        "--feature-gates", default="", help="e.g. DRAConsumableCapacity=false (all components)"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="keep PKI, etcd data and logs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        gates = _gates(args.feature_gates)
    except ValueError as exc:
        print(f"realcluster: --feature-gates: {exc}", file=sys.stderr)
        return 1
    nodes = [name.strip() for name in args.nodes.split(",") if name.strip()]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with RealCluster(feature_gates=gates, nodes=nodes, work_dir=args.work_dir) as cluster:
            cluster.write_kubeconfig(args.kubeconfig)
            print(f"ready {cluster.url}", flush=True)
            stop.wait()
    except RealClusterError as exc:
        print(f"realcluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
