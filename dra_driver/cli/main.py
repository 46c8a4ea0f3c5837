"""Entry point of the ``hdra`` console script: builds the parser and dispatches to a sub-command.

Contract: a sub-command returns an exit code; ``CommandError`` (and the backend's unavailability)
is printed as one ``hdra: <message>`` line on stderr with exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dra_driver import __version__
from dra_driver.cli import (
    controller,
    demo,
    devcluster,
    discover,
    explain,
    kubelet_plugin,
    simulate,
    top,
    webhook,
)
from dra_driver.cli.common import CommandError

_COMMANDS = (demo, simulate, explain, discover, devcluster, kubelet_plugin, controller, webhook, top)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hdra",
        description="A Kubernetes DRA driver that shares accelerators with hard memory and compute limits.",
    )
    parser.add_argument("--version", action="version", version=f"hdra {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="logging verbosity (default: info; warning for demo)",
    )
    parser.set_defaults(default_log_level="info")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, (args.log_level or args.default_log_level).upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.run(args)
    except CommandError as exc:
        print(f"hdra: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
