"""``hdra webhook``: serve the validating and mutating admission webhook over HTTPS until SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path

from dra_driver.cli.common import CommandError
from dra_driver.kube import KubeConfigError
from dra_driver.webhook import CertificateError, serve
from dra_driver.webhook.template_gc import DEFAULT_GRACE_S

DEFAULT_PORT = 8443


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "webhook", help="serve the admission webhook (validate hdra parameters, convert HAMi-style pods)"
    )
    parser.add_argument(
        "--tls-cert", required=True, type=Path, help="PEM certificate (chain); reloaded on change"
    )
    parser.add_argument("--tls-key", required=True, type=Path, help="PEM private key; reloaded on change")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTPS port (default: {DEFAULT_PORT})"
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument(
        "--template-grace-seconds",
        type=float,
        default=DEFAULT_GRACE_S,
        help="delete a generated ResourceClaimTemplate no pod names this long after its last use "
        f"(default: {DEFAULT_GRACE_S:g})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port: {args.port} is not a TCP port (0-65535)")
    if not args.template_grace_seconds > 0:
        raise CommandError(f"--template-grace-seconds: {args.template_grace_seconds:g} must be positive")
    try:
        return serve(
            args.tls_cert,
            args.tls_key,
            host=args.host,
            port=args.port,
            kubeconfig=args.kubeconfig,
            template_grace_s=args.template_grace_seconds,
        )
    except (KubeConfigError, CertificateError) as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
