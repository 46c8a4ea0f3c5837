"""Entry point of the ``hdra`` console script: builds the parser and dispatches to a sub-command.

Contract: a sub-command returns an exit code; ``CommandError`` (and the backend's unavailability)
is printed as one ``hdra: <message>`` line on stderr with exit code 1; usage errors exit 2; a reader
that closes stdout early ends the command quietly with 141. ``run`` is ``main`` for a whole
process (the console script and ``python -m``); ``main`` is what tests call, many times per process.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from dra_driver import __version__
from dra_driver.cli.errors import CommandError
from dra_driver.runtime import configure_logging
from dra_driver.runtime.logs import FORMATS, level_for

# Sub-command → (module, one-line help). Only the module of the command being run is imported, so
# `hdra kubelet-plugin`, `hdra webhook` and `hdra controller` never load the dev cluster, the
# simulator or the CEL engine (issue 16 item 5); the help must equal the module's own (tested).
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("dra_driver.cli.demo", "run the whole flow on an embedded cluster and show the placements"),
    "simulate": ("dra_driver.cli.simulate", "predict where claims would be allocated"),
    "explain": ("dra_driver.cli.explain", "explain why a claim is or is not allocatable"),
    "discover": ("dra_driver.cli.discover", "print the ResourceSlices this node would publish"),
    "devcluster": ("dra_driver.cli.devcluster", "run a loopback Kubernetes API server for DRA"),
    "kubelet-plugin": (
        "dra_driver.cli.kubelet_plugin",
        "run the node plugin (slices, kubelet gRPC, prepare)",
    ),
    "controller": ("dra_driver.cli.controller", "serve the scheduler extender for node-level binpack/spread"),
    "webhook": (
        "dra_driver.cli.webhook",
        "serve the admission webhook (validate hdra parameters, convert HAMi-style pods)",
    ),
    "top": ("dra_driver.cli.top", "show cards and the claims allocated on them, refreshing"),
}
# Packages only the development extra installs (pyproject [project.optional-dependencies] tools).
DEV_EXTRA_MODULES = frozenset({"cel", "kubernetes", "kubernetes_validate", "jsonschema"})


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is one), if any."""
    return next((word for word in argv if word in COMMANDS), None)


def _load(command: str) -> ModuleType:
    module, _help = COMMANDS[command]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in DEV_EXTRA_MODULES:
            raise CommandError(
                f"`hdra {command}` needs the development tools ({exc.name} is not installed): "
                "pip install 'hdra[tools]'"
            ) from None
        raise


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    """Logging flags; they may also follow the sub-command (``hdra kubelet-plugin -v 4``)."""
    parser.add_argument(
        "--log-format", choices=FORMATS, default=None, help="text (key=value, the default) or json"
    )
    parser.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=None,
        metavar="N",
        help="log verbosity as in Kubernetes components: 0-3 info, 4 and above debug",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="log level (default: info; warning for demo); -v wins when both are given",
    )


def _logging_flags(words: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The logging flags wherever they stand, and the other words in order."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_logging_flags(parser)
    return parser.parse_known_args(words)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command name; only ``command``'s own flags (and module) are loaded."""
    parser = argparse.ArgumentParser(
        prog="hdra",
        description="A Kubernetes DRA driver that shares accelerators with hard memory and compute limits.",
    )
    parser.add_argument("--version", action="version", version=f"hdra {__version__}")
    add_logging_flags(parser)
    parser.set_defaults(default_log_level="info")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        if name == command:
            _load(name).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)  # listed, not loaded
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parsed = _parse(argv)
    return parsed if isinstance(parsed, int) else _execute(parsed)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments (the chosen command's module loaded, logging configured), or the exit
    code when the command cannot be loaded."""
    logging_args, words = _logging_flags(list(sys.argv[1:] if argv is None else argv))
    try:
        parser = build_parser(_chosen(words))
    except CommandError as exc:
        print(f"hdra: {exc}", file=sys.stderr)
        return 1
    args = parser.parse_args(words)
    if logging_args.verbosity is not None:
        level = level_for(logging_args.verbosity)
    else:
        level = getattr(logging, (logging_args.log_level or args.default_log_level).upper())
    configure_logging(logging_args.log_format or "text", level=level, stream=sys.stderr)
    return args


def _execute(args: argparse.Namespace) -> int:
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


def run() -> int:
    """``main`` for a whole process, with the garbage collector kept off work that finds nothing
    (issue 17 item 6). Loading the command's modules creates ~60,000 objects that live until the
    process ends, and the collections that creation triggers walk them again and again (~0.06 s
    of CPU for the demo): the collector is off while they load, then they are frozen (moved to the
    permanent generation) so the command's own collections skip them. When the command has
    returned, everything is frozen again, so the interpreter's exit does not search the ~80,000
    objects then alive for cycles (that search took 0.4-0.5 s of ``hdra demo``'s wall under load;
    ~0.05 s this way). Commands release what they hold (servers stopped, temp dirs removed) before
    they return; what refcounting frees at exit is still freed, and only garbage held by reference
    cycles is left to the end of the process, whose finalizers Python does not promise at exit."""
    gc.disable()
    try:
        parsed = _parse(None)
    finally:
        gc.freeze()
        gc.enable()
    code = parsed if isinstance(parsed, int) else _execute(parsed)
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
