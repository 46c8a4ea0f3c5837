"""A fake kubelet for DRA plugins: the plugin watcher's registration flow and the DRA client calls.

Owns: watching a ``plugins_registry`` directory (polling every ~50 ms; names starting with "."
and non-sockets are ignored), registering each new socket the way the kubelet does (dial 10 s,
``GetInfo`` 1 s, validation, ``NotifyRegistrationStatus``; reference dra-api.md section 3.1),
deregistering a plugin whose socket disappears, and calling ``NodePrepareResources`` /
``NodeUnprepareResources`` over the version the kubelet would pick, with the kubelet's checks
on the answer (``kubelet_checks``). It talks only gRPC over unix sockets and must never import
the plugin it drives.

Deliberate differences from the real kubelet: a plugin becomes usable only after
``NotifyRegistrationStatus(true)`` went through (so ``wait_for_plugin`` implies the plugin knows),
a refused socket is not retried until it is replaced, and periodic ``GetInfo`` re-probes and the
health stream are not modelled.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from dra_driver.devcluster.kubelet_calls import DRAConnection
from dra_driver.devcluster.kubelet_checks import (
    ClaimPrepareResult,
    ClaimUnprepareResult,
    KubeletCheckError,
    KubeletDevice,
)
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.prepare.api import ClaimRef

LOG = logging.getLogger("hdra.devcluster")

PLUGIN_TYPE = "DRAPlugin"
# What a 1.34+ kubelet supports; a 1.32/1.33 kubelet supports only "v1beta1.DRAPlugin".
KUBELET_VERSIONS: tuple[str, ...] = ("v1.DRAPlugin", "v1beta1.DRAPlugin")
DIAL_TIMEOUT = 10.0
GET_INFO_TIMEOUT = 1.0
NOTIFY_TIMEOUT = 5.0
CALL_TIMEOUT = 45.0

__all__ = [
    "KUBELET_VERSIONS",
    "ClaimPrepareResult",
    "ClaimUnprepareResult",
    "FakeKubelet",
    "KubeletCheckError",
    "KubeletDevice",
    "RegisteredPlugin",
]


@dataclass(frozen=True)
class RegisteredPlugin:
    """A plugin the fake kubelet registered."""

    driver: str
    endpoint: str  # absolute path of the DRA socket
    version: str  # the service the kubelet talks to: "v1.DRAPlugin" or "v1beta1.DRAPlugin"
    supported_versions: tuple[str, ...]
    registration_socket: Path


@dataclass
class _Registered:
    plugin: RegisteredPlugin
    connection: DRAConnection


class FakeKubelet:
    """Registers the DRA plugins that appear in ``registry_dir`` and drives their DRA services."""

    def __init__(
        self,
        registry_dir: Path,
        *,
        versions: Sequence[str] = KUBELET_VERSIONS,
        poll_interval: float = 0.05,
    ) -> None:
        self._registry_dir = Path(registry_dir)
        self._versions = tuple(versions)
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._plugins: dict[str, _Registered] = {}
        self._rejections: dict[Path, str] = {}
        # socket path -> (st_dev, st_ino, st_mtime_ns): a re-created socket often reuses the inode
        # number (tmpfs), so its creation (modification) time tells the kubelet's "create" event
        # apart. Not the change time: a chmod of the live socket changes that, and the kubelet
        # does not re-register a plugin for a permission change.
        self._seen: dict[Path, tuple[int, int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def plugins(self) -> dict[str, RegisteredPlugin]:
        """The registered plugins by driver name (a snapshot)."""
        with self._lock:
            return {driver: entry.plugin for driver, entry in self._plugins.items()}

    @property
    def rejections(self) -> dict[Path, str]:
        """Registration sockets the kubelet refused, with the reason it sent back (a snapshot)."""
        with self._lock:
            return dict(self._rejections)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"FakeKubelet watching {self._registry_dir} was already started")
        self._registry_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._watch, name="fake-kubelet-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._changed:
            entries = list(self._plugins.values())
            self._plugins.clear()
            self._changed.notify_all()
        for entry in entries:
            entry.connection.close()

    def __enter__(self) -> FakeKubelet:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for_plugin(self, driver: str, timeout: float = 10.0) -> RegisteredPlugin:
        """Wait until ``driver`` is registered; TimeoutError names the driver and any rejections."""
        with self._changed:
            if not self._changed.wait_for(lambda: driver in self._plugins, timeout):
                raise TimeoutError(
                    f"DRA driver {driver} did not register with the fake kubelet in {self._registry_dir} "
                    f"within {timeout} s; rejected sockets: {self._rejections or 'none'}"
                )
            return self._plugins[driver].plugin

    def wait_for_rejection(self, socket: Path, timeout: float = 10.0) -> str:
        """Wait until the registration via ``socket`` was refused; return the reason sent to the plugin."""
        with self._changed:
            if not self._changed.wait_for(lambda: socket in self._rejections, timeout):
                raise TimeoutError(
                    f"registration via {socket} was not refused within {timeout} s "
                    f"(registered: {sorted(self._plugins) or 'none'})"
                )
            return self._rejections[socket]

    def wait_for_deregistration(self, driver: str, timeout: float = 10.0) -> None:
        """Wait until ``driver`` is no longer registered (its registration socket disappeared)."""
        with self._changed:
            if not self._changed.wait_for(lambda: driver not in self._plugins, timeout):
                raise TimeoutError(f"DRA driver {driver} was still registered after {timeout} s")

    def prepare(
        self, driver: str, claims: Sequence[ClaimRef], timeout: float = CALL_TIMEOUT
    ) -> dict[str, ClaimPrepareResult]:
        """NodePrepareResources for ``claims``; raises KubeletCheckError where the kubelet would fail."""
        return self._connection(driver).prepare(claims, timeout)

    def unprepare(
        self, driver: str, claims: Sequence[ClaimRef], timeout: float = CALL_TIMEOUT
    ) -> dict[str, ClaimUnprepareResult]:
        """NodeUnprepareResources for ``claims``; raises KubeletCheckError where the kubelet would fail."""
        return self._connection(driver).unprepare(claims, timeout)

    def _connection(self, driver: str) -> DRAConnection:
        with self._lock:
            entry = self._plugins.get(driver)
            if entry is None:
                raise KubeletCheckError(
                    f"DRA driver {driver} is not registered with the kubelet "
                    f"(registered: {sorted(self._plugins) or 'none'})"
                )
            return entry.connection

    # --- plugin watcher -------------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            try:
                self._scan()
            except Exception:
                LOG.exception("fake kubelet: scanning %s failed", self._registry_dir)
            if self._stop.wait(self._poll_interval):
                return

    def _scan(self) -> None:
        current: dict[Path, tuple[int, int, int]] = {}
        with os.scandir(self._registry_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(".sock"):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISSOCK(info.st_mode):
                    current[Path(entry.path)] = (info.st_dev, info.st_ino, info.st_mtime_ns)
        for path in [path for path in self._seen if current.get(path) != self._seen[path]]:
            del self._seen[path]
            self._deregister(path)
        for path, identity in sorted(current.items()):
            if path not in self._seen:
                self._seen[path] = identity
                self._register(path)

    def _deregister(self, socket: Path) -> None:
        with self._changed:
            self._rejections.pop(socket, None)
            drivers = [d for d, e in self._plugins.items() if e.plugin.registration_socket == socket]
            removed = [self._plugins.pop(driver) for driver in drivers]
            self._changed.notify_all()
        for entry in removed:
            LOG.info("fake kubelet: deregistered DRA driver %s (%s removed)", entry.plugin.driver, socket)
            entry.connection.close()

    def _register(self, socket: Path) -> None:
        channel = grpc.insecure_channel(f"unix://{socket}")
        try:
            problem = self._try_register(socket, channel)
        finally:
            channel.close()
        if problem is not None:
            LOG.warning("fake kubelet: registration via %s failed: %s", socket, problem)
            with self._changed:
                self._rejections[socket] = problem
                self._changed.notify_all()

    def _try_register(self, socket: Path, channel: Any) -> str | None:
        """Register the plugin behind ``socket``; the reason on failure, None on success."""
        try:
            grpc.channel_ready_future(channel).result(timeout=DIAL_TIMEOUT)
        except grpc.FutureTimeoutError:
            return f"dial {socket}: not connected within {DIAL_TIMEOUT} s"
        stub = registration_grpc.RegistrationStub(channel)  # type: ignore[no-untyped-call]
        try:
            info = stub.GetInfo(registration.InfoRequest(), timeout=GET_INFO_TIMEOUT)
        except grpc.RpcError as exc:
            return f"GetInfo on {socket} failed: {exc.code()}: {exc.details()}"
        problem, plugin = self._validate(socket, info)
        if plugin is None:
            self._notify(stub, socket, False, problem)
            return problem
        # Told first, then usable: a plugin that wait_for_plugin() returns knows it is registered.
        # (The real kubelet registers before notifying and retries later if notifying fails.)
        notify_problem = self._notify(stub, socket, True, "")
        if notify_problem is not None:
            return notify_problem
        connection = DRAConnection(plugin.driver, plugin.endpoint, plugin.version)
        with self._changed:
            previous = self._plugins.get(plugin.driver)
            # Like the kubelet, the most recently registered instance of a driver is used.
            self._plugins[plugin.driver] = _Registered(plugin, connection)
            self._rejections.pop(socket, None)
            self._changed.notify_all()
        if previous is not None:
            previous.connection.close()
        LOG.info(
            "fake kubelet: registered DRA driver %s at %s (%s)",
            plugin.driver,
            plugin.endpoint,
            plugin.version,
        )
        return None

    def _validate(self, socket: Path, info: Any) -> tuple[str, RegisteredPlugin | None]:
        """The kubelet's checks of a PluginInfo; (reason, None) when it is refused."""
        if info.type != PLUGIN_TYPE:
            return f"no handler registered for plugin type {info.type!r} at socket {socket}", None
        if not info.name:
            return f"plugin at socket {socket} reported an empty name", None
        endpoint = info.endpoint or str(socket)
        if not endpoint.startswith("/"):
            return (
                f"plugin {info.name} reported endpoint {info.endpoint!r}, which is not an absolute path",
                None,
            )
        offered = tuple(info.supported_versions)
        # The kubelet walks the plugin's list in order and takes the first service it supports.
        version = next((v for v in offered if v in self._versions), None)
        if version is None:
            return (
                f"plugin {info.name} supports none of the kubelet's DRA services {list(self._versions)}: "
                f"it offered {list(offered)}"
            ), None
        return "", RegisteredPlugin(info.name, endpoint, version, offered, socket)

    @staticmethod
    def _notify(stub: Any, socket: Path, registered: bool, error: str) -> str | None:
        status = registration.RegistrationStatus(plugin_registered=registered, error=error)
        try:
            stub.NotifyRegistrationStatus(status, timeout=NOTIFY_TIMEOUT)
        except grpc.RpcError as exc:
            return f"NotifyRegistrationStatus on {socket} failed: {exc.code()}: {exc.details()}"
        return None
