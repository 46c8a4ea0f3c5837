"""The DRA health service (``v1alpha1.DRAResourceHealth``): device health streamed to the kubelet.

Owns: ``HealthSource`` (what the servicer reads), ``DRAResourceHealthServicer`` and
``HEALTH_SERVICE`` (the registration string advertised in GetInfo). ``NodeWatchResources`` sends the
complete list of the driver's devices at once, then again after every change and at least every
``heartbeat_seconds`` (the kubelet marks a device Unknown when it is not refreshed within 30 s).
``close`` ends every open stream, so a server stop never waits for a stream that never ends.
It must never decide health itself or touch slices: the source does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from dra_driver.devices.health import DeviceHealthState
from dra_driver.kubeletapi.drahealth.v1alpha1 import api_pb2, api_pb2_grpc

LOG = logging.getLogger("hdra.plugin")

HEALTH_SERVICE = "v1alpha1.DRAResourceHealth"
MAX_MESSAGE = 1024  # the kubelet truncates longer messages (reference/dra-api.md section 3.5)


class HealthSource(Protocol):
    """The health of every device the driver publishes in ``pool``, and change notifications."""

    @property
    def pool(self) -> str: ...

    def states(self) -> Sequence[DeviceHealthState]: ...

    def subscribe(self, on_change: Callable[[], None]) -> Callable[[], None]: ...


def _status(healthy: bool | None) -> api_pb2.HealthStatus:
    if healthy is None:
        return api_pb2.UNKNOWN
    return api_pb2.HEALTHY if healthy else api_pb2.UNHEALTHY


class DRAResourceHealthServicer(api_pb2_grpc.DRAResourceHealthServicer):
    """Streams ``source``'s device health; each message holds every device of the pool."""

    def __init__(self, source: HealthSource, *, heartbeat_seconds: float = 10.0) -> None:
        if heartbeat_seconds <= 0:
            raise ValueError(f"heartbeat_seconds must be positive, got {heartbeat_seconds}")
        self._source = source
        self._heartbeat = heartbeat_seconds
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._wakeups: set[threading.Event] = set()

    def response(self) -> api_pb2.NodeWatchResourcesResponse:
        """The current health of every device, stamped with the current time."""
        now = int(time.time())
        return api_pb2.NodeWatchResourcesResponse(
            devices=[
                api_pb2.DeviceHealth(
                    device=api_pb2.DeviceIdentifier(pool_name=self._source.pool, device_name=state.device),
                    health=_status(state.healthy),
                    last_updated_time=now,
                    message=state.message[:MAX_MESSAGE],
                )
                for state in self._source.states()
            ]
        )

    def NodeWatchResources(  # noqa: N802 (gRPC method name)
        self, request: api_pb2.NodeWatchResourcesRequest, context: Any
    ) -> Iterator[api_pb2.NodeWatchResourcesResponse]:
        del request
        wakeup = threading.Event()
        with self._lock:
            self._wakeups.add(wakeup)
        unsubscribe = self._source.subscribe(wakeup.set)
        context.add_callback(wakeup.set)  # the client went away or the server stops
        try:
            while not self._closed.is_set() and context.is_active():
                wakeup.clear()
                yield self.response()
                wakeup.wait(self._heartbeat)
        finally:
            unsubscribe()
            with self._lock:
                self._wakeups.discard(wakeup)
            LOG.debug("health stream for pool %s ended", self._source.pool)

    def close(self) -> None:
        """End every open stream (before the server stops)."""
        self._closed.set()
        with self._lock:
            for wakeup in self._wakeups:
                wakeup.set()
