"""The kubelet plugin of one DRA driver: the DRA gRPC server plus the registration gRPC server.

Owns: the life cycle of both synchronous gRPC servers and their unix sockets. ``start`` serves
the DRA services (v1 and v1beta1) on ``<plugin_dir>/dra.sock`` *before* the registration socket
``<registry_dir>/<driver>-reg.sock`` appears, because the kubelet's plugin watcher may dial the
endpoint as soon as it sees the registration socket. ``stop`` withdraws the registration first
(the kubelet then deregisters the driver), then the DRA server, and removes both socket files.
With a ``health`` source it also serves ``v1alpha1.DRAResourceHealth`` on the DRA socket and
advertises it in GetInfo; without one neither happens.
It must never remove a file it did not create as a socket and never prepares claims itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from dra_driver.kubeletapi.dra.v1 import api_pb2_grpc as dra_v1_grpc
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2_grpc as dra_v1beta1_grpc
from dra_driver.kubeletapi.drahealth.v1alpha1 import api_pb2_grpc as health_grpc
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.plugin.health import HEALTH_SERVICE, DRAResourceHealthServicer, HealthSource
from dra_driver.plugin.registration import SUPPORTED_VERSIONS, RegistrationServicer
from dra_driver.plugin.runner import ClaimRunner
from dra_driver.plugin.servicer import DRAPluginServicer
from dra_driver.plugin.servicer_v1beta1 import DRAPluginV1Beta1Servicer
from dra_driver.plugin.sockets import (
    SOCKET_MODE,
    SocketPathError,
    clear_stale_socket,
    ensure_dir,
    remove_socket,
)
from dra_driver.prepare.api import ClaimPreparer

LOG = logging.getLogger("hdra.plugin")

DRA_SOCKET_NAME = "dra.sock"
# Registration answers must stay fast even while every DRA worker is busy: own, small pool.
REGISTRATION_WORKERS = 2


class PluginServer:
    """Serves one driver's ``ClaimPreparer`` to the kubelet over its two unix sockets."""

    def __init__(
        self,
        driver: str,
        preparer: ClaimPreparer,
        *,
        plugin_dir: Path,
        registry_dir: Path,
        on_registration_error: Callable[[str], None] | None = None,
        max_workers: int = 8,
        health: HealthSource | None = None,
        health_heartbeat_seconds: float = 10.0,
    ) -> None:
        if not driver or "/" in driver:
            raise ValueError(f"driver name {driver!r} must be non-empty and contain no '/'")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._driver = driver
        self._preparer = preparer
        # Absolute without resolving symlinks: the kubelet must see the same path as we do.
        self._dra_socket = Path(os.path.abspath(plugin_dir)) / DRA_SOCKET_NAME
        self._registration_socket = Path(os.path.abspath(registry_dir)) / f"{driver}-reg.sock"
        self._max_workers = max_workers
        self._health = (
            None
            if health is None
            else DRAResourceHealthServicer(health, heartbeat_seconds=health_heartbeat_seconds)
        )
        versions = SUPPORTED_VERSIONS if health is None else (*SUPPORTED_VERSIONS, HEALTH_SERVICE)
        self._registration = RegistrationServicer(
            driver,
            str(self._dra_socket),
            supported_versions=versions,
            on_registration_error=on_registration_error,
        )
        self._runner: ClaimRunner | None = None
        self._dra_server: Any = None
        self._registration_server: Any = None
        self._started = False

    @property
    def driver(self) -> str:
        return self._driver

    @property
    def dra_socket(self) -> Path:
        return self._dra_socket

    @property
    def registration_socket(self) -> Path:
        return self._registration_socket

    @property
    def registered(self) -> bool:
        """Whether the kubelet's last NotifyRegistrationStatus reported success."""
        return self._registration.registered

    @property
    def registration_error(self) -> str | None:
        """The kubelet's reason for its last rejection; None when registered or not yet told."""
        return self._registration.registration_error

    def wait_for_registration_status(self, timeout: float) -> bool:
        """Wait until the kubelet reported a registration status; False on timeout."""
        return self._registration.wait_for_status(timeout)

    def start(self) -> None:
        """Serve DRA first, then announce the plugin on the registration socket."""
        if self._started:
            raise RuntimeError(f"PluginServer for driver {self._driver} was already started")
        self._started = True
        ensure_dir(self._dra_socket.parent)
        ensure_dir(self._registration_socket.parent)
        runner = ClaimRunner(self._preparer, max_workers=self._max_workers)
        self._runner = runner
        v1 = DRAPluginServicer(runner)
        dra = grpc.server(ThreadPoolExecutor(self._max_workers, thread_name_prefix="hdra-dra-grpc"))
        dra_v1_grpc.add_DRAPluginServicer_to_server(v1, dra)  # type: ignore[no-untyped-call]
        dra_v1beta1_grpc.add_DRAPluginServicer_to_server(  # type: ignore[no-untyped-call]
            DRAPluginV1Beta1Servicer(v1), dra
        )
        if self._health is not None:
            health_grpc.add_DRAResourceHealthServicer_to_server(  # type: ignore[no-untyped-call]
                self._health, dra
            )
        try:
            self._dra_server = _serve(dra, self._dra_socket)
            registration = grpc.server(
                ThreadPoolExecutor(REGISTRATION_WORKERS, thread_name_prefix="hdra-registration-grpc")
            )
            registration_grpc.add_RegistrationServicer_to_server(  # type: ignore[no-untyped-call]
                self._registration, registration
            )
            self._registration_server = _serve(registration, self._registration_socket)
        except BaseException:
            self.stop(grace=0)
            raise
        LOG.info(
            "DRA plugin %s serving on %s, registration socket %s",
            self._driver,
            self._dra_socket,
            self._registration_socket,
        )

    def stop(self, grace: float = 2.0) -> None:
        """Stop registration first, then DRA (in-flight calls get ``grace`` seconds); remove both sockets."""
        registration, self._registration_server = self._registration_server, None
        if registration is not None:
            registration.stop(grace).wait()
            remove_socket(self._registration_socket)
        dra, self._dra_server = self._dra_server, None
        if self._health is not None:
            self._health.close()  # a health stream never ends by itself
        if dra is not None:
            dra.stop(grace).wait()
            remove_socket(self._dra_socket)
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.shutdown()
            LOG.info("DRA plugin %s stopped", self._driver)

    def __enter__(self) -> PluginServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _serve(server: Any, path: Path) -> Any:
    """Bind ``server`` to the unix socket ``path``, start it and restrict the socket to 0o660."""
    clear_stale_socket(path)
    try:
        server.add_insecure_port(f"unix://{path}")
    except RuntimeError as exc:
        raise SocketPathError(f"cannot listen on unix socket {path}: {exc}") from exc
    server.start()
    try:
        os.chmod(path, SOCKET_MODE)
    except OSError:
        server.stop(0).wait()
        remove_socket(path)
        raise
    return server
