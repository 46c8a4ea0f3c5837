"""``hdra controller``: the cluster-side process that serves node-level scheduling policy.

It serves the kube-scheduler extender ``prioritize`` endpoint (``POST /prioritize``, plus
``GET /healthz``) until SIGTERM or SIGINT. Configure the scheduler with an extender whose
``urlPrefix`` is this server and ``prioritizeVerb: prioritize``; ``ignorable: true`` keeps pods
schedulable while the controller is down. Card and node use come from one watch on claims and
slices (``ClusterUsage``); node plugins started with ``--policy-url`` fetch their cards' use from
``GET /card-usage`` instead of each watching every claim.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from dra_driver.cli.common import CommandError, open_client
from dra_driver.controller.cluster_usage import ClusterUsage
from dra_driver.controller.extender import ExtenderServer
from dra_driver.controller.metrics import controller_registry
from dra_driver.controller.node_scores import NODE_POLICIES, NodePolicy

log = logging.getLogger("hdra.cli")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "controller", help="serve the scheduler extender for node-level binpack/spread"
    )
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (default: 8888; 0: any)")
    parser.add_argument(
        "--policy",
        choices=NODE_POLICIES,
        default="binpack",
        help="binpack: prefer the most-used nodes; spread: the least-used (default: binpack)",
    )
    parser.add_argument(
        "--driver",
        nargs="+",
        default=None,
        metavar="D",
        help="drivers whose cards count (default: every *.hdra.io driver)",
    )
    parser.add_argument(
        "--cache-seconds",
        type=float,
        default=1.0,
        help="how long a burst of claim and slice changes settles before use is recomputed (default: 1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port} is not a TCP port (0..65535)")
    if args.cache_seconds < 0:
        raise CommandError(f"--cache-seconds {args.cache_seconds} must not be negative")
    policy: NodePolicy = args.policy
    # Handlers first: a SIGTERM while the first usage lists are still running (they retry for up to
    # the retry policy's deadline) must end the process cleanly, not kill it mid-start.
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    client = open_client(args.kubeconfig)
    usage = ClusterUsage(client, drivers=args.driver, debounce_seconds=args.cache_seconds)
    server = ExtenderServer(
        usage,
        policy=policy,
        host=args.host,
        port=args.port,
        metrics=controller_registry(usage.objects, args.driver),
        card_scores=usage.card_scores,
    )
    try:
        server.start()
    except OSError as exc:
        client.close()
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    usage.start()
    drivers = ", ".join(args.driver) if args.driver else "every *.hdra.io driver"
    log.info("scheduler extender (%s, %s) listening on %s", policy, drivers, server.url)
    try:
        while not stop.is_set():
            stop.wait(1.0)
    finally:
        server.stop()
        usage.stop()
        client.close()
    return 0
