"""The NVML health watcher: XID critical errors, double-bit ECC and GPU lost, from NVML events.

Owns: ``NvmlHealthWatcher`` (see :mod:`.health` for the monitors' contract). A module of its own so
that only NVIDIA nodes import nvidia-ml-py (``pynvml``, ~2 MiB of the node plugin's memory).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import pynvml

from dra_driver.devices.base import BackendError
from dra_driver.devices.health import DEFAULT_IGNORED_XIDS, _Listeners
from dra_driver.devices.nvml_queries import describe

log = logging.getLogger("hdra.devices")

# Event types the watcher asks for; GpuUnavailableError is "GPU lost" on drivers that report it.
_WANTED_EVENTS = (
    pynvml.nvmlEventTypeXidCriticalError
    | pynvml.nvmlEventTypeDoubleBitEccError
    | pynvml.nvmlEventTypeGpuUnavailableError
)


class NvmlHealthWatcher(_Listeners):
    """Watches NVML events of every GPU (named ``gpu-<index>`` like ``NvidiaBackend``) in a thread.

    XID critical errors whose XID is in ``ignored_xids`` change nothing; any other XID, a double-bit
    ECC error or GPU lost make the card unhealthy. A card whose events cannot be registered
    (NotSupported) is logged and not watched. ``nvmlEventSetWait`` answering GPU_IS_LOST marks every
    watched card lost.
    """

    def __init__(self, *, ignored_xids: Iterable[int] = DEFAULT_IGNORED_XIDS, wait_ms: int = 200) -> None:
        super().__init__()
        self._ignored = frozenset(ignored_xids)
        self._wait_ms = wait_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._names: dict[int, str] = {}  # handle address → device name
        self._event_set: Any = None
        self.watched: list[str] = []

    def start(self) -> None:
        """Initialise NVML and register for events; ``BackendError`` naming the cause if NVML fails."""
        if self._thread is not None:
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise BackendError(f"NVML health watching: nvmlInit failed: {describe(error)}") from error
        step = "nvmlEventSetCreate"
        try:
            self._event_set = pynvml.nvmlEventSetCreate()
            step = "nvmlDeviceGetCount"
            for index in range(int(pynvml.nvmlDeviceGetCount())):
                step = f"registering events of NVIDIA device {index}"
                self._register(index)
        except pynvml.NVMLError as error:
            self._release()
            raise BackendError(f"NVML health watching: {step} failed: {describe(error)}") from error
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hdra-nvml-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
            self._release()

    def _register(self, index: int) -> None:
        name = f"gpu-{index}"
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        try:
            supported = int(pynvml.nvmlDeviceGetSupportedEventTypes(handle))
            pynvml.nvmlDeviceRegisterEvents(handle, _WANTED_EVENTS & supported, self._event_set)
        except pynvml.NVMLError as error:
            if error.value not in (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND):
                raise
            log.warning(
                "device %s: NVML health events are not supported (%s); not watched",
                name,
                error,
                extra={"device": name},
            )
            return
        self._names[_address(handle)] = name
        self.watched.append(name)

    def _release(self) -> None:
        if self._event_set is not None:
            try:
                pynvml.nvmlEventSetFree(self._event_set)
            except pynvml.NVMLError as error:
                log.warning("nvmlEventSetFree failed: %s", describe(error))
            self._event_set = None
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as error:
            log.warning("nvmlShutdown failed after health watching: %s", describe(error))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = pynvml.nvmlEventSetWait(self._event_set, self._wait_ms)
            except pynvml.NVMLError as error:
                if error.value == pynvml.NVML_ERROR_TIMEOUT:
                    continue
                if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                    self._mark(self.watched, "GPULost: nvmlEventSetWait reported GPU_IS_LOST")
                    continue
                log.error("nvmlEventSetWait failed, retrying in 1 s: %s", describe(error))
                self._stop.wait(1.0)
                continue
            self._handle(data)

    def _handle(self, data: Any) -> None:
        name = self._names.get(_address(data.device))
        if name is None:
            log.warning("NVML event 0x%x for an unknown device handle; ignored", int(data.eventType))
            return
        kind, detail = int(data.eventType), int(data.eventData)
        if kind == pynvml.nvmlEventTypeXidCriticalError:
            if detail in self._ignored:
                log.info(
                    "device %s: ignored XID %d (application error)", name, detail, extra={"device": name}
                )
                return
            self._mark([name], f"XID-{detail}: NVML reported critical XID {detail} on {name}")
        elif kind == pynvml.nvmlEventTypeDoubleBitEccError:
            self._mark([name], f"DoubleBitEcc: NVML reported a double-bit ECC error on {name}")
        elif kind == pynvml.nvmlEventTypeGpuUnavailableError:
            self._mark([name], f"GPULost: NVML reported {name} unavailable (GPU lost)")
        else:
            log.debug("device %s: NVML event 0x%x not a health event; ignored", name, kind)

    def _mark(self, names: Sequence[str], message: str) -> None:
        state = self.unhealthy()
        for name in names:
            state.setdefault(name, message)
        self._set(state)


def _address(handle: Any) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value or 0
