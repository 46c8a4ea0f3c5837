"""Entry point of the ``hdra`` console script: builds the parser and dispatches to a sub-command.

Contract: a sub-command returns an exit code; ``CommandError`` (and the backend's unavailability)
is printed as one ``hdra: <message>`` line on stderr with exit code 1; usage errors exit 2; a reader
that closes stdout early ends the command quietly with 141.
"""

from __future__ import annotations

import argparse
import logging
import os
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
    except BrokenPipeError:
        return _closed_stdout()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_stdout()
    return code


def _closed_stdout() -> int:
    """The reader of stdout went away (``hdra simulate ... | head``): stop quietly, as a pipe
    should, and point stdout at /dev/null so the interpreter's final flush cannot fail either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a command killed by the broken pipe


if __name__ == "__main__":
    sys.exit(main())
