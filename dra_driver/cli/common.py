"""Helpers shared by the sub-commands: common flags and their validation.

Owns: the flags every node-side command takes (backend, profile, driver, mode, slice options) and
turning them into objects of the lower layers with errors that name the bad flag. Must never run
anything long-lived.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Collection, Sequence
from pathlib import Path

from pydantic import ValidationError

from dra_driver.cli.errors import CommandError
from dra_driver.devices import AcceleratorDevice, BackendError, make_backend
from dra_driver.devices.registry import BACKENDS, DRIVER_FOR_BACKEND, TOOL_BACKENDS
from dra_driver.kube import KubeClient, KubeConfigError
from dra_driver.kube.features import DEFAULT_VERSION, KubeVersion
from dra_driver.slices import SharingMode, SliceOptions

__all__ = ["CommandError"]  # defined in cli.errors (light to import); the commands take it from here


def open_client(kubeconfig: Path | None) -> KubeClient:
    """The API client of every command that talks to a cluster.

    Any kubeconfig problem (missing, unreadable, not YAML, no usable context) is the same one-line
    ``hdra: kubeconfig ...`` error in every command.
    """
    try:
        return KubeClient.from_kubeconfig(kubeconfig)
    except KubeConfigError as exc:
        raise CommandError(str(exc)) from None


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="mock", help="device backend (default: mock)")
    parser.add_argument(
        "--profile",
        default=None,
        help="mock profile: a100x4, h200x8, mixed, ascend910bx8, mlu370x4, dcuz100x4 or mi300x8",
    )
    for vendor, (_constructor, default_tool) in TOOL_BACKENDS.items():
        parser.add_argument(
            f"--{vendor}-tool",
            type=Path,
            default=None,
            help=f"{vendor} backend: path of the vendor tool (default: {default_tool})",
        )
    parser.add_argument(
        "--driver", default=None, help="driver name (default: <vendor>.hdra.io of the backend)"
    )
    parser.add_argument(
        "--node-name",
        default=os.environ.get("NODE_NAME"),
        help="this node's name (default: $NODE_NAME, then the host name)",
    )


def add_slice_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=[m.value for m in SharingMode],
        default=SharingMode.AUTO.value,
        help="sharing mode (default: auto — the richest mode the API server keeps)",
    )
    parser.add_argument(
        "--kube-version", default=str(DEFAULT_VERSION), help="Kubernetes version whose limits apply"
    )
    parser.add_argument("--shares", type=int, default=10, help="capacity mode: allocations per card")
    parser.add_argument("--replicas", type=int, default=4, help="replicas mode: devices per card")
    parser.add_argument(
        "--partitions", default="2,4,8", help="partitions mode: fractions of a card, e.g. 2,4,8"
    )


def node_name(args: argparse.Namespace) -> str:
    return str(args.node_name or socket.gethostname())


def driver_name(args: argparse.Namespace) -> str:
    return str(args.driver or DRIVER_FOR_BACKEND[args.backend])


def discover_devices(args: argparse.Namespace) -> list[AcceleratorDevice]:
    """Run the chosen backend once; any failure becomes a CommandError naming the cause."""
    try:
        backend = make_backend(
            args.backend, node_name=node_name(args), profile=args.profile, tool=vendor_tool(args)
        )
        return backend.discover()
    except (BackendError, ValueError) as exc:
        raise CommandError(str(exc)) from exc


def vendor_tool(args: argparse.Namespace) -> Path | None:
    """The ``--<backend>-tool`` path of a tool backend; a tool flag for another backend is an error."""
    for vendor in TOOL_BACKENDS:
        path: Path | None = getattr(args, f"{vendor}_tool", None)
        if path is not None and vendor != args.backend:
            raise CommandError(f"--{vendor}-tool needs --backend {vendor}, not --backend {args.backend}")
    tool: Path | None = getattr(args, f"{args.backend}_tool", None)
    return tool


def slice_options(args: argparse.Namespace) -> SliceOptions:
    try:
        version = KubeVersion.parse(args.kube_version)
    except ValueError as exc:
        raise CommandError(f"--kube-version: {exc}") from exc
    try:
        fractions = tuple(int(part) for part in str(args.partitions).split(",") if part.strip())
    except ValueError:
        raise CommandError(
            f"--partitions: {args.partitions!r} is not a comma-separated list of integers"
        ) from None
    try:
        return SliceOptions(
            kube_version=version, shares=args.shares, replicas=args.replicas, partition_fractions=fractions
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CommandError(f"invalid slice options: {problems}") from None


def sharing_mode(args: argparse.Namespace) -> SharingMode:
    return SharingMode(args.mode)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, text: Collection[str] = ()
) -> str:
    """A plain left-aligned text table; numbers are right-aligned, except in the ``text`` columns
    (identifiers such as share IDs, which may happen to look like numbers: ``86137304``, ``12e45678``)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        header not in text and bool(cells) and all(_is_number(row[i]) for row in cells)
        for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
