"""The kubelet plugin-registration servicer (``pluginregistration.Registration``) of one DRA driver.

Owns: the ``PluginInfo`` the kubelet reads with ``GetInfo`` (type "DRAPlugin", the driver name,
the absolute DRA socket path, the DRA service versions) and the registration status the kubelet
reports back. ``GetInfo`` must answer at once from memory (the kubelet gives it 1 s and re-probes
registered plugins), so it never does I/O. A rejected registration is logged at ERROR and handed
to ``on_registration_error``; a failing callback must never break the gRPC answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2, api_pb2_grpc
from dra_driver.plugin.servicer import SERVICE_NAME as V1_SERVICE
from dra_driver.plugin.servicer_v1beta1 import SERVICE_NAME as V1BETA1_SERVICE

LOG = logging.getLogger("hdra.plugin")

PLUGIN_TYPE = "DRAPlugin"
# In preference order: the kubelet takes the first entry it supports.
SUPPORTED_VERSIONS: tuple[str, ...] = (V1_SERVICE, V1BETA1_SERVICE)


class RegistrationServicer(api_pb2_grpc.RegistrationServicer):
    """Answers the kubelet's plugin watcher for one driver and records what it reports back."""

    def __init__(
        self,
        driver: str,
        endpoint: str,
        *,
        supported_versions: Sequence[str] = SUPPORTED_VERSIONS,
        on_registration_error: Callable[[str], None] | None = None,
    ) -> None:
        if not driver:
            raise ValueError("driver name must not be empty: the kubelet looks plugins up by it")
        if not endpoint.startswith("/"):
            raise ValueError(f"endpoint must be an absolute socket path, got {endpoint!r}")
        self._info = api_pb2.PluginInfo(
            type=PLUGIN_TYPE, name=driver, endpoint=endpoint, supported_versions=list(supported_versions)
        )
        self._on_error = on_registration_error
        self._lock = threading.Lock()
        self._registered = False
        self._error: str | None = None
        self._changed = threading.Condition(self._lock)

    @property
    def registered(self) -> bool:
        with self._lock:
            return self._registered

    @property
    def registration_error(self) -> str | None:
        with self._lock:
            return self._error

    def wait_for_status(self, timeout: float) -> bool:
        """Wait until the kubelet reported a status (registered or not); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._registered or self._error is not None, timeout)

    def GetInfo(  # noqa: N802 (gRPC method name)
        self, request: api_pb2.InfoRequest, context: Any
    ) -> api_pb2.PluginInfo:
        del request, context
        return self._info

    def NotifyRegistrationStatus(  # noqa: N802 (gRPC method name)
        self, request: api_pb2.RegistrationStatus, context: Any
    ) -> api_pb2.RegistrationStatusResponse:
        del context
        driver = self._info.name
        if request.plugin_registered and not request.error:
            with self._changed:
                self._registered, self._error = True, None
                self._changed.notify_all()
            LOG.info("kubelet registered DRA driver %s (endpoint %s)", driver, self._info.endpoint)
            return api_pb2.RegistrationStatusResponse()
        message = request.error or "the kubelet reported plugin_registered=false without a reason"
        with self._changed:
            self._registered, self._error = False, message
            self._changed.notify_all()
        LOG.error("kubelet rejected the registration of DRA driver %s: %s", driver, message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                LOG.exception("on_registration_error callback failed for DRA driver %s", driver)
        return api_pb2.RegistrationStatusResponse()
