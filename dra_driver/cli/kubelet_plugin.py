"""``hdra kubelet-plugin``: the node-side driver process.

Wires the parts together in the order that keeps the kubelet safe:

1. discover devices (exit non-zero with the cause when the backend is unavailable);
2. publish ResourceSlices and keep them repaired (slice controller);
3. recover the prepared state (checkpoint rollback, rebuild after corruption, with Events);
4. serve the DRA gRPC service, then the registration socket (the kubelet never sees a registration
   without a working endpoint);
5. every ``--cleanup-seconds``, unprepare claims deleted from the API; with ``--policy`` the
   cards are re-listed most-used (binpack) or least-used (spread) first as claims come and go;
   NVIDIA (and mock) plugins run HAMi's monitor feedback every ``--monitor-seconds`` over the
   regions of their prepared claims (``plugin.monitor``: priority, the "default" core policy);
6. on SIGTERM/SIGINT remove both sockets, then stop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore
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
from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.controller.health_wiring import node_health, parse_xids
from dra_driver.controller.ordering import POLICIES
from dra_driver.controller.policy_tracker import CardPolicyTracker
from dra_driver.devices import AcceleratorDevice, BackendError
from dra_driver.devices.registry import DRIVER_FOR_BACKEND
from dra_driver.interception import InterceptionSettings, sharing_prerequisites
from dra_driver.kube import KubeClient
from dra_driver.kube.client import node_reference
from dra_driver.plugin import PluginServer, SocketPathError
from dra_driver.plugin.metrics import InstrumentedPreparer, MetricsServer, node_registry
from dra_driver.plugin.monitor import INTERVAL_SECONDS, RegionMonitor
from dra_driver.prepare import (
    ClaimPreparer,
    DeviceCatalog,
    NodePreparer,
    PreparerSettings,
    cleanup_stale,
    recover_at_start,
)
from dra_driver.slices import SharingMode

log = logging.getLogger("hdra.plugin")

KUBELET_PLUGINS_DIR = Path("/var/lib/kubelet/plugins")
KUBELET_REGISTRY_DIR = Path("/var/lib/kubelet/plugins_registry")


MONITORED_BACKENDS = ("nvidia", "mock")  # HAMi-core regions (the mock backend writes NVIDIA's env)


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
        "--hook-python",
        type=Path,
        default=InterceptionSettings().hook_python,
        help="NVIDIA: the host's Python 3.8+ that runs hdra's CDI hook <library-dir>/hdra-cdi-hook.py "
        "(default: /usr/bin/python3)",
    )
    parser.add_argument(
        "--vdev-dir",
        type=Path,
        default=InterceptionSettings().vdev_dir,
        help="Hygon: host dir of the per-claim vDCU config files (default: /etc/vdev)",
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
    parser.add_argument("--resync-seconds", type=float, default=30.0, help="periodic full slice re-sync")
    parser.add_argument(
        "--cleanup-seconds", type=float, default=60.0, help="periodic cleanup of deleted claims"
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
    devices = discover_devices(args)
    options = slice_options(args).model_copy(update={"health_taint_effect": args.health_taint_effect})
    driver, node = driver_name(args), node_name(args)
    try:
        health = node_health(
            args.backend,
            devices,
            node_name=node,
            mock_health_file=args.mock_health_file,
            ignored_xids=parse_xids(args.ignored_xids),
        )
    except ValueError as exc:
        raise CommandError(f"health settings: {exc}") from exc
    client = open_client(args.kubeconfig)
    mode = sharing_mode(args)
    missing = sharing_prerequisites(args.backend, _interception(args)) if args.backend != "mock" else []
    if missing:
        mode = SharingMode.EXCLUSIVE  # never publish shares whose limits this node cannot enforce
        message = (
            f"{args.backend} cards are published whole (mode exclusive instead of {args.mode}): "
            + "; ".join(missing)
        )
        log.warning("node=%s driver=%s %s", node, driver, message)
        client.record_event(
            node_reference(node), reason="SharingPrerequisiteMissing", message=message, type="Warning"
        )

    def ordered() -> list[AcceleratorDevice]:
        return tracker.cards()  # the card-level policy's order (binpack/spread), index order for none

    publisher = SlicePublisher(
        client,
        driver=driver,
        node_name=node,
        devices=health.devices(ordered) if health is not None else ordered,
        mode=mode,
        options=options,
        keep_order=True,
    )
    controller = SliceController(publisher, resync_seconds=args.resync_seconds)
    tracker = CardPolicyTracker(
        client, driver=driver, node_name=node, cards=devices, policy=args.policy, controller=controller
    )
    catalog = _catalog(devices, publisher)
    preparer = _preparer(args, client, publisher, catalog)
    served: ClaimPreparer = preparer
    metrics_server: MetricsServer | None = None
    if args.metrics_port is not None:
        registry, metrics = node_registry(preparer.checkpoint, catalog, preparer.settings, lambda: devices)
        served = InstrumentedPreparer(preparer, metrics)
        metrics_server = MetricsServer(registry, args.metrics_host, args.metrics_port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("driver %s on node %s: %d device(s), mode %s", driver, node, len(devices), args.mode)
    if health is not None:
        health.attach(publisher, controller)
        try:
            health.start()
        except BackendError as exc:
            raise CommandError(f"cannot watch device health: {exc}") from exc
    tracker.start()
    controller.start()
    if controller.last_error:
        log.warning("first slice sync failed, will retry: %s", controller.last_error)
    _recover(preparer, client, node)

    def registration_failed(message: str) -> None:
        client.record_event(
            node_reference(node), reason="PluginRegistrationFailed", message=message, type="Warning"
        )

    server = PluginServer(
        driver,
        served,
        plugin_dir=args.plugin_dir or KUBELET_PLUGINS_DIR / driver,
        registry_dir=args.registry_dir,
        on_registration_error=registration_failed,
        health=health,
    )
    try:
        if metrics_server is not None:
            metrics_server.start()
        server.start()
    except (SocketPathError, OSError) as exc:
        if metrics_server is not None:
            metrics_server.stop()
        if health is not None:
            health.stop()
        tracker.stop()
        controller.stop()
        raise CommandError(f"cannot serve the kubelet or the metrics: {exc}") from exc
    log.info("serving %s, registered at %s", server.dra_socket, server.registration_socket)
    monitor = _monitor(args, preparer, node)
    try:
        while not stop.wait(args.cleanup_seconds):
            removed = cleanup_stale(preparer)
            if removed:
                log.info("cleanup unprepared %d claim(s) deleted from the API", len(removed))
    finally:
        if monitor is not None:
            monitor.stop()
        server.stop()
        if metrics_server is not None:
            metrics_server.stop()
        if health is not None:
            health.stop()
        tracker.stop()
        controller.stop()
    return 0


def _monitor(args: argparse.Namespace, preparer: NodePreparer, node: str) -> RegionMonitor | None:
    """HAMi's feedback loop for the backends whose claims HAMi-core enforces (started), else None."""
    if args.backend not in MONITORED_BACKENDS or args.monitor_seconds <= 0:
        return None
    monitor = RegionMonitor(
        preparer.checkpoint.entries,
        preparer.settings.interception,
        node_name=node,
        interval=args.monitor_seconds,
    )
    monitor.start()
    return monitor


def _catalog(devices: list[AcceleratorDevice], publisher: SlicePublisher) -> Callable[[], DeviceCatalog]:
    """The catalog of what is published now, rebuilt only when the publisher published anew."""
    cache: dict[int, DeviceCatalog] = {}

    def current() -> DeviceCatalog:
        slices = publisher.published_slices
        key = id(slices)
        if key not in cache:
            cache.clear()
            cache[key] = DeviceCatalog.from_slices(devices, slices)
        return cache[key]

    return current


def _preparer(
    args: argparse.Namespace,
    client: KubeClient,
    publisher: SlicePublisher,
    catalog: Callable[[], DeviceCatalog],
) -> NodePreparer:
    driver, node = publisher.driver, publisher.node_name
    vendor = next((b for b, d in DRIVER_FOR_BACKEND.items() if d == driver), args.backend)
    interception = _interception(args)
    if args.visibility == "cdi" and args.backend != "nvidia":
        raise CommandError(
            "--visibility cdi needs --backend nvidia: only the NVIDIA toolkit publishes CDI ids"
        )
    settings = PreparerSettings(
        driver=driver,
        node_name=node,
        vendor=vendor,
        with_library=args.backend != "mock",  # real nodes mount the vendor's interception library
        interception=interception,
    )
    return NodePreparer(
        client,
        settings,
        catalog=catalog,
        cdi=CdiWriter(args.cdi_dir.absolute()),
        checkpoint=CheckpointStore(args.state_dir.absolute(), boot_id_path=args.boot_id_file),
    )


def _interception(args: argparse.Namespace) -> InterceptionSettings:
    try:
        return InterceptionSettings(
            host_library_dir=args.library_dir.absolute(),
            state_dir=args.state_dir.absolute(),
            lock_dir=args.lock_dir.absolute(),
            visibility=args.visibility,
            vdev_dir=args.vdev_dir.absolute(),
            hook_python=args.hook_python,
        )
    except ValueError as exc:
        raise CommandError(f"invalid node paths: {exc}") from exc


def _recover(preparer: NodePreparer, client: KubeClient, node: str) -> None:
    report = recover_at_start(preparer)
    if report.corrupt_reason is not None:
        message = (
            f"the checkpoint was corrupt ({report.corrupt_reason}) and was moved to {report.load.moved_to}; "
            f"rebuilt from the CDI dir and the API: {len(report.reprepared)} claim(s) prepared again, "
            f"{len(report.removed_orphans)} removed"
        )
        log.warning("%s", message)
        client.record_event(node_reference(node), reason="CheckpointCorrupt", message=message, type="Warning")
    if report.rolled_back:
        log.info("rolled back %d unfinished prepare(s)", len(report.rolled_back))
    for problem in report.problems:
        log.warning("recovery: %s", problem)
