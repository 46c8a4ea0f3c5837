"""``hdra kubelet-plugin``: the node-side driver process.

Turns the flags into a ``NodeAgentConfig`` and runs a ``NodeAgent`` (``dra_driver.node``), which
owns the start order, the supervised loops and the teardown (DESIGN §3, §9). This module only
parses, validates what a flag alone can tell, installs the SIGTERM/SIGINT handlers (they set the
agent's stop event at once, also while it is still starting) and maps ``NodeAgentError`` to the
one-line ``hdra: <message>``.
"""

from __future__ import annotations

import argparse
import logging
import math
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
    open_client,
    sharing_mode,
    slice_options,
)
from dra_driver.controller.health_wiring import parse_xids
from dra_driver.controller.ordering import POLICIES
from dra_driver.devices.registry import DRIVER_FOR_BACKEND
from dra_driver.interception import InterceptionSettings
from dra_driver.node import NodeAgent, NodeAgentConfig, NodeAgentError
from dra_driver.plugin.monitor import INTERVAL_SECONDS

log = logging.getLogger("hdra.cli")

KUBELET_PLUGINS_DIR = Path("/var/lib/kubelet/plugins")
KUBELET_REGISTRY_DIR = Path("/var/lib/kubelet/plugins_registry")


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0 (0 or less would spin a core)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kubelet-plugin", help="run the node plugin (slices, kubelet gRPC, prepare)"
    )
    add_device_flags(parser)
    add_slice_flags(parser)
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument(
        "--plugin-dir",
        type=Path,
        default=None,
        help="DRA socket dir (default: /var/lib/kubelet/plugins/<driver>)",
    )
    parser.add_argument(
        "--registry-dir", type=Path, default=KUBELET_REGISTRY_DIR, help="kubelet plugin registry"
    )
    parser.add_argument(
        "--cdi-dir", type=Path, default=Path("/var/run/cdi"), help="where CDI specs are written"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path("/var/lib/hdra"), help="checkpoint and claim dirs"
    )
    parser.add_argument(
        "--library-dir",
        type=Path,
        default=Path("/usr/local/hdra"),
        help="host dir of libvgpu.so and ld.so.preload",
    )
    parser.add_argument(
        "--lock-dir",
        type=Path,
        default=InterceptionSettings().lock_dir,
        help="HAMi-core's host lock dir (default: /tmp/vgpulock)",
    )
    parser.add_argument(
        "--vdev-dir",
        type=Path,
        default=InterceptionSettings().vdev_dir,
        help="Hygon: host dir of the per-claim vDCU config files (default: /etc/vdev)",
    )
    parser.add_argument(
        "--hook-python",
        type=Path,
        default=InterceptionSettings().hook_python,
        help="NVIDIA: the host's Python 3.8+ that runs hdra's CDI hook <library-dir>/hdra-cdi-hook.py "
        "(default: /usr/bin/python3)",
    )
    parser.add_argument(
        "--visibility",
        choices=["env", "cdi"],
        default="env",
        help="make cards visible by NVIDIA_VISIBLE_DEVICES (env) or the NVIDIA toolkit's CDI ids (cdi)",
    )
    parser.add_argument(
        "--boot-id-file", type=Path, default=Path("/proc/sys/kernel/random/boot_id"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="none",
        help="card-level policy: list the most-used (binpack) or least-used (spread) cards first",
    )
    parser.add_argument(
        "--policy-url",
        default=None,
        metavar="URL",
        help="hdra controller's URL: take card use from its one cluster-wide watch (GET /card-usage) "
        "instead of watching every claim from this node",
    )
    parser.add_argument(
        "--mock-health-file",
        type=Path,
        default=None,
        help="mock backend: device names marked unhealthy, one per line",
    )
    parser.add_argument(
        "--health-taint-effect",
        choices=("NoSchedule", "NoExecute"),
        default="NoSchedule",
        help="effect of the <driver>/unhealthy taint on failing cards",
    )
    parser.add_argument(
        "--ignored-xids", default="13,31,43,45,68,109", help="NVIDIA XIDs that do not make a card unhealthy"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port (default: off)"
    )
    parser.add_argument("--metrics-host", default="0.0.0.0", help="address of the metrics server")
    parser.add_argument(
        "--resync-seconds", type=positive_seconds, default=30.0, help="periodic full slice re-sync (> 0)"
    )
    parser.add_argument(
        "--cleanup-seconds",
        type=positive_seconds,
        default=60.0,
        help="periodic cleanup of deleted claims (> 0)",
    )
    parser.add_argument(
        "--monitor-seconds",
        type=float,
        default=INTERVAL_SECONDS,
        help="NVIDIA: HAMi's priority / core-policy feedback over the claims' HAMi-core regions "
        "every N seconds (HAMi vGPUmonitor: 5; 0 turns it off)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    devices = discover_devices(args)  # an unavailable backend is named before any cluster problem
    client = open_client(args.kubeconfig)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent = NodeAgent(config, client, lambda: devices)
    try:
        agent.run(stop)
    except NodeAgentError as exc:
        raise CommandError(str(exc)) from None
    finally:
        client.close()
    return 0


def _config(args: argparse.Namespace) -> NodeAgentConfig:
    driver = driver_name(args)
    if args.visibility == "cdi" and args.backend != "nvidia":
        raise CommandError(
            "--visibility cdi needs --backend nvidia: only the NVIDIA toolkit publishes CDI ids"
        )
    options = slice_options(args).model_copy(update={"health_taint_effect": args.health_taint_effect})
    try:
        xids = parse_xids(args.ignored_xids)
    except ValueError as exc:
        raise CommandError(f"health settings: {exc}") from None
    try:
        return NodeAgentConfig(
            driver=driver,
            node_name=node_name(args),
            backend=args.backend,
            vendor=next((b for b, d in DRIVER_FOR_BACKEND.items() if d == driver), args.backend),
            plugin_dir=args.plugin_dir or KUBELET_PLUGINS_DIR / driver,
            registry_dir=args.registry_dir,
            cdi_dir=args.cdi_dir,
            state_dir=args.state_dir,
            library_dir=args.library_dir,
            lock_dir=args.lock_dir,
            vdev_dir=args.vdev_dir,
            hook_python=args.hook_python,
            mode=sharing_mode(args),
            options=options,
            visibility=args.visibility,
            boot_id_file=args.boot_id_file,
            policy=args.policy,
            policy_url=args.policy_url,
            mock_health_file=args.mock_health_file,
            ignored_xids=xids,
            metrics_host=args.metrics_host,
            metrics_port=args.metrics_port,
            resync_seconds=args.resync_seconds,
            cleanup_seconds=args.cleanup_seconds,
            monitor_seconds=args.monitor_seconds,
            with_library=args.backend != "mock",  # real nodes mount the vendor's interception library
        )
    except NodeAgentError as exc:
        raise CommandError(str(exc)) from None
