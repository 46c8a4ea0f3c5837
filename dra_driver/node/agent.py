"""``NodeAgent``: builds, owns and tears down every part of the node plugin, in one place.

Start order (each step only after the one before it worked; a set ``stop`` — SIGTERM — aborts
between any two steps, so a plugin told to stop while starting never starts serving):

1. preflight: driver and node names, every directory (before anything is published), an
   exclusive lock on the state dir and on the plugin dir (a second instance refuses to start);
2. the device backend (discover);
3. the health source (mock file or NVML) and the card order (policy tracker, or any ``CardOrder``);
4. the slice publisher and controller: first sync attempt before going on;
5. the preparer, then start-up recovery (rollback, rebuild, stale temp files);
6. the metrics server with ``/healthz`` and ``/readyz``;
7. the kubelet gRPC server (DRA socket first, then registration);
8. HAMi's region feedback (NVIDIA and mock, ``--monitor-seconds``), then the periodic claim cleanup.

Every part that was started is registered with one ``ExitStack``, so teardown is always the reverse
of start-up and written once: cleanup stops, the kubelet sockets go, then metrics, the controller,
the card order, the health source, and the locks last. Background loops (slice sync and watch,
cleanup) run under one ``Supervisor``: an exception is logged with its cause and the loop restarted
with backoff; ``/readyz`` and the ``hdra_plugin_loop_*`` metrics show it.

It must never parse arguments or print; errors are ``NodeAgentError`` with one line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Protocol

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore
from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.controller.health_wiring import NodeHealth, node_health
from dra_driver.controller.policy_tracker import CardPolicyTracker
from dra_driver.controller.remote_order import ControllerCardOrder
from dra_driver.devices import AcceleratorDevice, BackendError
from dra_driver.interception import InterceptionSettings, sharing_prerequisites
from dra_driver.kube import KubeClient
from dra_driver.kube.client import node_reference
from dra_driver.node.config import NodeAgentConfig, NodeAgentError
from dra_driver.node.preflight import InstanceLock, check_dirs
from dra_driver.node.probes import AgentCollector, liveness, readiness
from dra_driver.plugin import PluginServer, SocketPathError
from dra_driver.plugin.metrics import InstrumentedPreparer, MetricsServer, PluginMetrics, node_registry
from dra_driver.plugin.monitor import RegionMonitor
from dra_driver.prepare import (
    ClaimPreparer,
    NodePreparer,
    PreparerSettings,
    cleanup_stale,
    recover_at_start,
)
from dra_driver.runtime import Supervisor, set_process_fields
from dra_driver.slices import EMPTY_POOL, PublishedPool, SharingMode

log = logging.getLogger("hdra.node")

CLEANUP_LOOP = "claim-cleanup"
MONITORED_BACKENDS = ("nvidia", "mock")  # HAMi-core regions (the mock backend writes NVIDIA's env)


class CardOrder(Protocol):
    """Where the published card order comes from (DESIGN §8): the per-node policy tracker today;
    any source with this shape (e.g. one fed by the cluster-side controller) can take its place."""

    def cards(self) -> list[AcceleratorDevice]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


CardOrderFactory = Callable[[KubeClient, Sequence[AcceleratorDevice], "NodeAgent"], CardOrder]


def policy_tracker(config: NodeAgentConfig) -> CardOrderFactory:
    """The default card order: from ``hdra controller`` when ``policy_url`` is set (no claim watch on
    the node), else ``CardPolicyTracker`` with the configured policy."""

    def build(client: KubeClient, cards: Sequence[AcceleratorDevice], agent: NodeAgent) -> CardOrder:
        if config.policy_url:
            return ControllerCardOrder(
                config.policy_url,
                driver=config.driver,
                node_name=config.node_name,
                cards=cards,
                policy=config.policy,  # type: ignore[arg-type]  # checked by ControllerCardOrder
                controller=agent,
            )
        return CardPolicyTracker(
            client,
            driver=config.driver,
            node_name=config.node_name,
            cards=cards,
            policy=config.policy,  # type: ignore[arg-type]  # checked by CardPolicyTracker
            controller=agent,
        )

    return build


class NodeAgent:
    """The node plugin of one driver on one node (see the module docstring)."""

    def __init__(
        self,
        config: NodeAgentConfig,
        client: KubeClient,
        discover: Callable[[], list[AcceleratorDevice]],
        *,
        card_order: CardOrderFactory | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._discover = discover
        self._card_order = card_order or policy_tracker(config)
        self.supervisor = supervisor or Supervisor()
        self._halt = threading.Event()  # stops the agent's own loops at teardown
        self.devices: list[AcceleratorDevice] = []
        self.publisher: SlicePublisher | None = None
        self.controller: SliceController | None = None
        self.preparer: NodePreparer | None = None
        self.server: PluginServer | None = None
        self.metrics_server: MetricsServer | None = None
        self.health: NodeHealth | None = None
        self._served_metrics: PluginMetrics | None = None
        self.started = threading.Event()

    # ---- what other parts read ----------------------------------------------------------------

    def pool(self) -> PublishedPool:
        """The published-pool snapshot of the last successful sync (empty before the first)."""
        return self.publisher.published_pool if self.publisher is not None else EMPTY_POOL

    def request_sync(self) -> None:
        """Ask for a slice sync soon (the card order changed); nothing before the controller exists."""
        if self.controller is not None:
            self.controller.request_sync()

    def serving(self) -> bool:
        return self.server is not None and self.started.is_set()

    def liveness(self) -> tuple[bool, str]:
        return liveness(self.supervisor)

    def readiness(self) -> tuple[bool, str]:
        return readiness(self.supervisor, self.pool, self.serving)

    # ---- life cycle ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Start every part, serve until ``stop`` is set, then tear down in reverse order."""
        with ExitStack() as stack:
            if self.start(stack, stop):
                stop.wait()
            log.info("stopping", extra={"node": self.config.node_name, "driver": self.config.driver})

    def start(self, stack: ExitStack, stop: threading.Event) -> bool:
        """Start every part onto ``stack``; False when ``stop`` was set before all parts started."""
        config = self.config
        set_process_fields(node=config.node_name, driver=config.driver)
        self._preflight(stack)
        steps: list[Callable[[ExitStack, threading.Event], None]] = [
            self._start_devices,
            self._start_slices,
            self._start_preparer,
            self._start_metrics,
            self._start_server,
            self._start_monitor,
            self._start_cleanup,
        ]
        for step in steps:
            if stop.is_set():
                log.info("stop requested while starting; not serving", extra={"node": config.node_name})
                return False
            step(stack, stop)
        self.started.set()
        return not stop.is_set()

    def _preflight(self, stack: ExitStack) -> None:
        config = self.config
        check_dirs(
            create={
                "--state-dir": config.state_dir,
                "--plugin-dir": config.plugin_dir,
                "--registry-dir": config.registry_dir,
                "--cdi-dir": config.cdi_dir,
            },
            existing_or_creatable={
                "--library-dir": config.library_dir,
                "--lock-dir": config.lock_dir,
                "--vdev-dir": config.vdev_dir,
            },
        )
        stack.enter_context(InstanceLock(config.state_dir, "--state-dir"))
        if config.plugin_dir.resolve() != config.state_dir.resolve():
            stack.enter_context(InstanceLock(config.plugin_dir, "--plugin-dir"))

    def _start_devices(self, stack: ExitStack, stop: threading.Event) -> None:
        config = self.config
        self.devices = list(self._discover())
        try:
            self.health = node_health(
                config.backend,
                self.devices,
                node_name=config.node_name,
                mock_health_file=config.mock_health_file,
                ignored_xids=config.ignored_xids,
            )
        except ValueError as exc:
            raise NodeAgentError(f"health settings: {exc}") from None

    def _interception(self) -> InterceptionSettings:
        config = self.config
        try:
            return InterceptionSettings(
                host_library_dir=config.library_dir.absolute(),
                state_dir=config.state_dir.absolute(),
                lock_dir=config.lock_dir.absolute(),
                visibility=config.visibility,  # type: ignore[arg-type]  # checked by InterceptionSettings
                vdev_dir=config.vdev_dir.absolute(),
                hook_python=config.hook_python,
            )
        except ValueError as exc:
            raise NodeAgentError(f"invalid node paths: {exc}") from None

    def _mode(self) -> SharingMode:
        """The configured mode, or exclusive when this node cannot enforce shares (a vendor's
        interception files are missing): never publish shares whose limits cannot hold."""
        config = self.config
        if config.backend == "mock":
            return config.mode
        missing = sharing_prerequisites(config.backend, self._interception())
        if not missing:
            return config.mode
        message = (
            f"{config.backend} cards are published whole (mode exclusive instead of {config.mode.value}): "
            + "; ".join(missing)
        )
        log.warning("%s", message, extra={"node": config.node_name, "driver": config.driver})
        self._client.record_event(
            node_reference(config.node_name),
            reason="SharingPrerequisiteMissing",
            message=message,
            type="Warning",
        )
        return SharingMode.EXCLUSIVE

    def _start_slices(self, stack: ExitStack, stop: threading.Event) -> None:
        config = self.config
        mode = self._mode()
        order = self._card_order(self._client, self.devices, self)
        cards = self.health.devices(order.cards) if self.health is not None else order.cards
        self.publisher = SlicePublisher(
            self._client,
            driver=config.driver,
            node_name=config.node_name,
            devices=cards,
            mode=mode,
            options=config.options,
            keep_order=True,
        )
        self.controller = SliceController(
            self.publisher, resync_seconds=config.resync_seconds, supervisor=self.supervisor
        )
        log.info(
            "starting: %d device(s), mode %s",
            len(self.devices),
            mode.value,
            extra={"node": config.node_name, "driver": config.driver},
        )
        if self.health is not None:
            self.health.attach(self.publisher, self.controller)
            try:
                self.health.start()
            except BackendError as exc:
                raise NodeAgentError(f"cannot watch device health: {exc}") from None
            stack.callback(self.health.stop)
        order.start()  # the first publish already follows the policy
        stack.callback(order.stop)
        self.controller.start(stop)
        stack.callback(self.controller.stop)
        if self.controller.last_error:
            log.warning("first slice sync failed, will retry: %s", self.controller.last_error)

    def _start_preparer(self, stack: ExitStack, stop: threading.Event) -> None:
        config = self.config
        interception = self._interception()
        settings = PreparerSettings(
            driver=config.driver,
            node_name=config.node_name,
            vendor=config.vendor,
            with_library=config.with_library,
            interception=interception,
        )
        self.preparer = NodePreparer(
            self._client,
            settings,
            catalog=self.pool,
            cdi=CdiWriter(config.cdi_dir.absolute()),
            checkpoint=CheckpointStore(config.state_dir.absolute(), boot_id_path=config.boot_id_file),
        )
        self._recover(self.preparer)

    def _start_metrics(self, stack: ExitStack, stop: threading.Event) -> None:
        config = self.config
        if config.metrics_port is None:
            return
        assert self.preparer is not None
        registry, metrics = node_registry(
            self.preparer.checkpoint, self.pool, self.preparer.settings, lambda: self.devices
        )
        registry.register(AgentCollector(self.supervisor, self.pool, self.readiness, config.node_name))
        self._served_metrics = metrics
        self.metrics_server = MetricsServer(
            registry,
            config.metrics_host,
            config.metrics_port,
            probes={"/healthz": self.liveness, "/readyz": self.readiness},
        )
        try:
            self.metrics_server.start()
        except OSError as exc:
            raise NodeAgentError(
                f"cannot serve metrics on {config.metrics_host}:{config.metrics_port}: {exc.strerror or exc}"
            ) from None
        stack.callback(self.metrics_server.stop)

    def _start_server(self, stack: ExitStack, stop: threading.Event) -> None:
        config = self.config
        assert self.preparer is not None
        served: ClaimPreparer = self.preparer
        if self._served_metrics is not None:
            served = InstrumentedPreparer(self.preparer, self._served_metrics)
        self.server = PluginServer(
            config.driver,
            served,
            plugin_dir=config.plugin_dir,
            registry_dir=config.registry_dir,
            on_registration_error=self._registration_failed,
            health=self.health,
        )
        try:
            self.server.start()
        except (SocketPathError, OSError) as exc:
            raise NodeAgentError(f"cannot serve the kubelet: {exc}") from None
        stack.callback(self.server.stop)
        log.info(
            "serving %s, registration socket %s",
            self.server.dra_socket,
            self.server.registration_socket,
            extra={"node": config.node_name, "driver": config.driver},
        )

    def _start_monitor(self, stack: ExitStack, stop: threading.Event) -> None:
        """HAMi's feedback loop over the prepared claims' regions, for backends whose claims
        HAMi-core enforces (the mock backend writes NVIDIA's env); off with ``monitor_seconds`` 0."""
        config = self.config
        if config.backend not in MONITORED_BACKENDS or config.monitor_seconds <= 0:
            return
        assert self.preparer is not None
        monitor = RegionMonitor(
            self.preparer.checkpoint.entries,
            self.preparer.settings.interception,
            node_name=config.node_name,
            interval=config.monitor_seconds,
        )
        monitor.start()
        stack.callback(monitor.stop)

    def _start_cleanup(self, stack: ExitStack, stop: threading.Event) -> None:
        preparer = self.preparer
        assert preparer is not None
        period = self.config.cleanup_seconds

        def loop() -> None:
            while not self._halt.wait(period):
                removed = cleanup_stale(preparer)
                self.supervisor.report(CLEANUP_LOOP, None)
                if removed:
                    log.info("cleanup unprepared %d claim(s) deleted from the API", len(removed))

        self._halt.clear()
        thread = self.supervisor.run(CLEANUP_LOOP, loop, self._halt)
        stack.callback(thread.join, 10.0)
        stack.callback(self._halt.set)

    # ---- helpers ---------------------------------------------------------------------------------

    def _registration_failed(self, message: str) -> None:
        self._client.record_event(
            node_reference(self.config.node_name),
            reason="PluginRegistrationFailed",
            message=message,
            type="Warning",
        )

    def _recover(self, preparer: NodePreparer) -> None:
        node = self.config.node_name
        report = recover_at_start(preparer)
        if report.corrupt_reason is not None:
            message = (
                f"the checkpoint was corrupt ({report.corrupt_reason}) and was moved to "
                f"{report.load.moved_to}; rebuilt from the CDI dir and the API: "
                f"{len(report.reprepared)} claim(s) prepared again, "
                f"{len(report.removed_orphans)} removed"
            )
            log.warning("%s", message, extra={"node": node})
            self._client.record_event(
                node_reference(node), reason="CheckpointCorrupt", message=message, type="Warning"
            )
        if report.rolled_back:
            log.info("rolled back %d unfinished prepare(s)", len(report.rolled_back), extra={"node": node})
        for problem in report.problems:
            log.warning("recovery: %s", problem, extra={"node": node})
