"""``hdra discover``: print the ResourceSlices this node would publish, without an API server.

With ``--mode auto`` the mode is the richest one whose feature gates are on by default in
``--kube-version`` (there is no API server to ask). Output is a JSON (or YAML) list of complete
ResourceSlice objects, as the API server would receive them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from dra_driver.cli.common import (
    CommandError,
    add_device_flags,
    add_slice_flags,
    discover_devices,
    driver_name,
    node_name,
    sharing_mode,
    slice_options,
)
from dra_driver.kube.features import default_feature_gates
from dra_driver.slices import SharingMode, build_slices, first_mode_for_gates


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("discover", help="print the ResourceSlices this node would publish")
    add_device_flags(parser)
    add_slice_flags(parser)
    parser.add_argument("-o", "--output", choices=["json", "yaml"], default="json", help="output format")
    parser.set_defaults(run=run)


def render_slices(args: argparse.Namespace) -> list[dict[str, Any]]:
    devices = discover_devices(args)
    options = slice_options(args)
    mode = sharing_mode(args)
    if mode is SharingMode.AUTO:
        mode = first_mode_for_gates(default_feature_gates(options.kube_version))
    try:
        slices = build_slices(
            devices, driver=driver_name(args), node_name=node_name(args), mode=mode, options=options
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in slices]


def run(args: argparse.Namespace) -> int:
    objects = render_slices(args)
    if args.output == "yaml":
        print(yaml.safe_dump_all(objects, sort_keys=False), end="")
    else:
        # a v1 List, which `kubectl apply -f -` and `kubectl create -f -` accept (a bare array they refuse)
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2))
    return 0
