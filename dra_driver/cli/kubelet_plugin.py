"""``hdra kubelet-plugin``: the node-side driver process.

For now it discovers devices and runs the slice controller (publish, watch, repair) until SIGTERM
or SIGINT; the kubelet gRPC services join it in the node-plugin issue. Exits non-zero with the
cause when the backend is unavailable (e.g. "no NVIDIA driver found on this node").
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

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
from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.kube import KubeClient, KubeError

log = logging.getLogger("hdra.plugin")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("kubelet-plugin", help="run the node plugin (slice publisher)")
    add_device_flags(parser)
    add_slice_flags(parser)
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument("--resync-seconds", type=float, default=30.0, help="periodic full re-sync interval")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    devices = discover_devices(args)
    options = slice_options(args)
    try:
        client = KubeClient.from_kubeconfig(args.kubeconfig)
    except (KubeError, OSError, ValueError) as exc:
        raise CommandError(f"cannot load Kubernetes client configuration: {exc}") from exc
    publisher = SlicePublisher(
        client,
        driver=driver_name(args),
        node_name=node_name(args),
        devices=lambda: devices,
        mode=sharing_mode(args),
        options=options,
    )
    controller = SliceController(publisher, resync_seconds=args.resync_seconds)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "publishing %d device(s) of %s on node %s (mode %s)",
        len(devices),
        publisher.driver,
        publisher.node_name,
        args.mode,
    )
    controller.start()
    if controller.last_error:
        log.warning("first sync failed, will retry: %s", controller.last_error)
    stop.wait()
    controller.stop()
    return 0
