"""``hdra devcluster``: run the loopback API server until SIGTERM (for kubectl and local testing)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dra_driver.cli.common import CommandError
from dra_driver.devcluster.command import ServeError, serve
from dra_driver.kube.features import DEFAULT_VERSION, KubeVersion, parse_feature_gates


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("devcluster", help="run a loopback Kubernetes API server for DRA")
    parser.add_argument("--kubeconfig", required=True, type=Path, help="where to write the kubeconfig")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--kube-version", default=str(DEFAULT_VERSION), help="Kubernetes version to emulate")
    parser.add_argument(
        "--feature-gates", default="", help="e.g. DRAConsumableCapacity=false,DRADeviceTaints=true"
    )
    parser.add_argument("--nodes", default="", help="comma-separated Node objects to create, e.g. n1,n2")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        version = KubeVersion.parse(args.kube_version)
    except ValueError as exc:
        raise CommandError(f"--kube-version: {exc}") from exc
    try:
        gates = parse_feature_gates(args.feature_gates, version)
    except ValueError as exc:
        raise CommandError(f"--feature-gates: {exc}") from exc
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port: {args.port} is not a TCP port (0-65535)")
    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    twice = sorted({n for n in nodes if nodes.count(n) > 1})
    if twice:
        raise CommandError(f"--nodes: {', '.join(twice)} listed more than once")
    try:
        return serve(args.kubeconfig, args.port, version, gates, nodes)
    except ServeError as exc:
        raise CommandError(str(exc)) from None
