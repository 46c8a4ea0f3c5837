"""A fake ``libnvidia-ml.so.1`` for tests: NVML faked at the ctypes boundary.

Owns: ``FakeGpu`` (what one card answers), ``FakeNvmlLib`` (an object whose methods are named like
the C symbols; each fills the ctypes out-params nvidia-ml-py passes and returns an NVML return
code), ``installed`` (puts a fake at ``pynvml.nvmlLib`` and restores pynvml afterwards) and
``library_missing`` (makes pynvml's own loader fail as on a node without a driver).
nvidia-ml-py's wrappers run unchanged on top of it (struct types, str/bytes conversion,
``_nvmlCheckReturn``), so argument-type bugs still show (testing.md §6). A symbol listed in
``missing`` is absent from the object, so pynvml raises ``NVMLError_FunctionNotFound`` by itself.
Health events: a test queues events with ``push_event`` (or a return code for the next
``nvmlEventSetWait`` with ``push_wait_error``); ``nvmlEventSetWait_v2`` hands them out in order
and answers NVML_ERROR_TIMEOUT after its timeout when none is queued.
It must never patch pynvml's Python wrappers, and it never needs a GPU.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pynvml

# NVML return codes, typed (pynvml itself is untyped).
SUCCESS: int = pynvml.NVML_SUCCESS
UNINITIALIZED: int = pynvml.NVML_ERROR_UNINITIALIZED
INVALID_ARGUMENT: int = pynvml.NVML_ERROR_INVALID_ARGUMENT
NOT_SUPPORTED: int = pynvml.NVML_ERROR_NOT_SUPPORTED
INSUFFICIENT_SIZE: int = pynvml.NVML_ERROR_INSUFFICIENT_SIZE
ARGUMENT_VERSION_MISMATCH: int = pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH
TIMEOUT: int = pynvml.NVML_ERROR_TIMEOUT
GPU_IS_LOST: int = pynvml.NVML_ERROR_GPU_IS_LOST
XID_CRITICAL: int = pynvml.nvmlEventTypeXidCriticalError
DOUBLE_BIT_ECC: int = pynvml.nvmlEventTypeDoubleBitEccError
GPU_UNAVAILABLE: int = pynvml.nvmlEventTypeGpuUnavailableError
EVENT_SET_ADDRESS = 0x5E7E0000

HANDLE_BASE = 0x5EED0000
"""Device handles are fake pointers ``HANDLE_BASE + index``; they are never dereferenced."""

NOT_SUPPORTED_MARK = "NotSupported"
FUNCTION_NOT_FOUND_MARK = "FunctionNotFound"
_NVML_BUS_ID = re.compile(r"([0-9a-fA-F]+):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])")


@dataclass
class FakeGpu:
    """One card. An optional field set to ``None`` makes its symbol answer NVML_ERROR_NOT_SUPPORTED;
    ``errors`` maps a symbol name to the return code it answers for this card (overrides all)."""

    name: str
    uuid: str
    memory_total: int
    pci_bus_id: str = "00000000:3B:00.0"
    minor: int | None = 0
    cuda_compute_capability: tuple[int, int] | None = (9, 0)
    architecture: int | None = pynvml.NVML_DEVICE_ARCH_HOPPER
    brand: int | None = pynvml.NVML_BRAND_NVIDIA
    mig_mode: tuple[int, int] | None = (0, 0)
    supported_events: int | None = XID_CRITICAL | DOUBLE_BIT_ECC | GPU_UNAVAILABLE
    errors: dict[str, int] = field(default_factory=dict)


def _out(ref: Any) -> Any:
    """The object behind ``ctypes.byref(x)`` as passed by nvidia-ml-py."""
    return ref._obj


class FakeNvmlLib:
    """Stands in for the loaded NVML shared library (``pynvml.nvmlLib``)."""

    def __init__(
        self,
        gpus: list[FakeGpu],
        *,
        driver_version: str | None = "580.95.05",
        cuda_driver_version: int | None = 13000,
        errors: Mapping[str, int] | None = None,
        missing: set[str] | None = None,
    ) -> None:
        self.gpus = gpus
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.nvml_version = "13.580.95.05"
        self.errors: dict[str, int] = dict(errors or {})  # symbol → code, for every call
        self.missing: set[str] = set(missing or ())
        self.calls: list[str] = []
        self.init_depth = 0
        self.init_calls = 0
        self.shutdown_calls = 0
        # Health events: what each device registered for, and the queue nvmlEventSetWait reads.
        self.registered_events: dict[int, int] = {}  # device index → event mask
        self.event_sets_open = 0
        self._events: list[tuple[int, int, int] | int] = []  # (index, type, data) or a return code
        self._events_ready = threading.Condition()

        # nvidia-ml-py sets ``restype`` on this one before calling it, which a bound method refuses.
        def nvmlErrorString(code: int) -> bytes:  # noqa: N802 - the C symbol's name
            self.calls.append("nvmlErrorString")
            return str(pynvml.NVMLError._errcode_to_string.get(code, f"Unknown Error {code}")).encode()

        self.nvmlErrorString = nvmlErrorString

    def __getattribute__(self, name: str) -> Any:
        # A missing symbol must look absent to getattr(), exactly like an older libnvidia-ml.
        if name.startswith("nvml") and name in object.__getattribute__(self, "missing"):
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    @classmethod
    def from_fixture(cls, fixture: Mapping[str, Any]) -> FakeNvmlLib:
        """Build from the JSON ``tools/record_nvml_fixture.py`` prints.

        Each recorded answer is a value, ``"NotSupported"``, ``"FunctionNotFound"`` (the symbol
        is then missing from the whole library) or ``{"nvml_error": <code>}``. Unknown device keys
        raise ``ValueError`` naming them, so a typo in a hand-written fixture cannot go unnoticed.
        """
        missing: set[str] = set()
        errors: dict[str, int] = {}
        driver = _answer(fixture["driver_version"], "nvmlSystemGetDriverVersion", missing, errors)
        cuda = _answer(fixture["cuda_driver_version"], "nvmlSystemGetCudaDriverVersion", missing, errors)
        gpus = [
            _gpu_from_fixture(position, entry, missing) for position, entry in enumerate(fixture["devices"])
        ]
        return cls(
            gpus,
            driver_version=None if driver is None else str(driver),
            cuda_driver_version=None if cuda is None else int(cuda),
            errors=errors,
            missing=missing,
        )

    # --- bookkeeping -------------------------------------------------------------------------------

    def _enter(self, symbol: str, *, needs_init: bool = True) -> int:
        self.calls.append(symbol)
        if needs_init and self.init_depth == 0:
            return UNINITIALIZED
        return self.errors.get(symbol, SUCCESS)

    def _gpu(self, symbol: str, handle: Any) -> tuple[int, FakeGpu | None]:
        code = self._enter(symbol)
        if code != SUCCESS:
            return code, None
        address = ctypes.cast(handle, ctypes.c_void_p).value or 0
        index = address - HANDLE_BASE
        if not 0 <= index < len(self.gpus):
            return INVALID_ARGUMENT, None
        gpu = self.gpus[index]
        return gpu.errors.get(symbol, SUCCESS), gpu

    @staticmethod
    def _write_string(buffer: Any, length: Any, value: str) -> int:
        encoded = value.encode()
        if len(encoded) + 1 > int(length.value):
            return INSUFFICIENT_SIZE
        buffer.value = encoded
        return SUCCESS

    # --- health events (test side) ------------------------------------------------------------------

    def push_event(self, index: int, event_type: int, data: int = 0) -> None:
        """Queue one event of device ``index`` for ``nvmlEventSetWait``."""
        with self._events_ready:
            self._events.append((index, event_type, data))
            self._events_ready.notify_all()

    def push_wait_error(self, code: int) -> None:
        """Make one ``nvmlEventSetWait`` answer ``code`` (e.g. GPU_IS_LOST)."""
        with self._events_ready:
            self._events.append(code)
            self._events_ready.notify_all()

    def pending_events(self) -> int:
        with self._events_ready:
            return len(self._events)

    # --- library lifecycle -------------------------------------------------------------------------

    def nvmlInitWithFlags(self, flags: int) -> int:  # noqa: N802
        code = self._enter("nvmlInitWithFlags", needs_init=False)
        if code == SUCCESS:
            self.init_depth += 1
            self.init_calls += 1
        return code

    def nvmlInit_v2(self) -> int:  # noqa: N802
        return self.nvmlInitWithFlags(0)

    def nvmlShutdown(self) -> int:  # noqa: N802
        code = self._enter("nvmlShutdown")
        if code == SUCCESS:
            self.init_depth -= 1
            self.shutdown_calls += 1
        return code

    # --- system queries ----------------------------------------------------------------------------

    def nvmlSystemGetDriverVersion(self, buffer: Any, length: Any) -> int:  # noqa: N802
        code = self._enter("nvmlSystemGetDriverVersion")
        if code != SUCCESS:
            return code
        if self.driver_version is None:
            return NOT_SUPPORTED
        return self._write_string(buffer, length, self.driver_version)

    def nvmlSystemGetNVMLVersion(self, buffer: Any, length: Any) -> int:  # noqa: N802
        code = self._enter("nvmlSystemGetNVMLVersion")
        if code != SUCCESS:
            return code
        return self._write_string(buffer, length, self.nvml_version)

    def _cuda_version(self, symbol: str, ref: Any) -> int:
        code = self._enter(symbol)
        if code != SUCCESS:
            return code
        if self.cuda_driver_version is None:
            return NOT_SUPPORTED
        _out(ref).value = self.cuda_driver_version
        return SUCCESS

    def nvmlSystemGetCudaDriverVersion(self, ref: Any) -> int:  # noqa: N802
        return self._cuda_version("nvmlSystemGetCudaDriverVersion", ref)

    def nvmlSystemGetCudaDriverVersion_v2(self, ref: Any) -> int:  # noqa: N802
        return self._cuda_version("nvmlSystemGetCudaDriverVersion_v2", ref)

    def nvmlDeviceGetCount_v2(self, ref: Any) -> int:  # noqa: N802
        code = self._enter("nvmlDeviceGetCount_v2")
        if code == SUCCESS:
            _out(ref).value = len(self.gpus)
        return code

    def nvmlDeviceGetHandleByIndex_v2(self, index: Any, ref: Any) -> int:  # noqa: N802
        code = self._enter("nvmlDeviceGetHandleByIndex_v2")
        if code != SUCCESS:
            return code
        position = int(index.value)
        if not 0 <= position < len(self.gpus):
            return INVALID_ARGUMENT
        code = self.gpus[position].errors.get("nvmlDeviceGetHandleByIndex_v2", SUCCESS)
        if code == SUCCESS:
            # The out-param is a NULL ``c_nvmlDevice_t`` pointer; store the fake address in it.
            slot = ctypes.cast(ctypes.pointer(_out(ref)), ctypes.POINTER(ctypes.c_void_p))
            slot.contents.value = HANDLE_BASE + position
        return code

    # --- device queries ----------------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: Any, buffer: Any, length: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceGetName", handle)
        if gpu is None or code != SUCCESS:
            return code
        return self._write_string(buffer, length, gpu.name)

    def nvmlDeviceGetUUID(self, handle: Any, buffer: Any, length: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceGetUUID", handle)
        if gpu is None or code != SUCCESS:
            return code
        return self._write_string(buffer, length, gpu.uuid)

    def nvmlDeviceGetMemoryInfo(self, handle: Any, ref: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceGetMemoryInfo", handle)
        if gpu is None or code != SUCCESS:
            return code
        memory = _out(ref)
        memory.total, memory.free, memory.used = gpu.memory_total, gpu.memory_total, 0
        return code

    def nvmlDeviceGetMemoryInfo_v2(self, handle: Any, ref: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceGetMemoryInfo_v2", handle)
        if gpu is None or code != SUCCESS:
            return code
        memory = _out(ref)
        if memory.version != pynvml.nvmlMemory_v2:
            return ARGUMENT_VERSION_MISMATCH
        memory.total, memory.reserved, memory.free, memory.used = gpu.memory_total, 0, gpu.memory_total, 0
        return code

    def nvmlDeviceGetPciInfo_v3(self, handle: Any, ref: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceGetPciInfo_v3", handle)
        if gpu is None or code != SUCCESS:
            return code
        match = _NVML_BUS_ID.fullmatch(gpu.pci_bus_id)
        if match is None:
            # A real driver never does this; the fake passes odd ids through to test the caller.
            _out(ref).busId = gpu.pci_bus_id.encode()
            return code
        info = _out(ref)
        info.domain, info.bus, info.device = (int(part, 16) for part in match.groups()[:3])
        info.busId = gpu.pci_bus_id.encode()
        info.busIdLegacy = f"{info.domain:04X}:{info.bus:02X}:{info.device:02X}.{match.group(4)}".encode()
        return code

    def _uint(self, symbol: str, handle: Any, ref: Any, attribute: str) -> int:
        code, gpu = self._gpu(symbol, handle)
        if gpu is None or code != SUCCESS:
            return code
        value = getattr(gpu, attribute)
        if value is None:
            return NOT_SUPPORTED
        _out(ref).value = value
        return code

    def nvmlDeviceGetMinorNumber(self, handle: Any, ref: Any) -> int:  # noqa: N802
        return self._uint("nvmlDeviceGetMinorNumber", handle, ref, "minor")

    def nvmlDeviceGetArchitecture(self, handle: Any, ref: Any) -> int:  # noqa: N802
        return self._uint("nvmlDeviceGetArchitecture", handle, ref, "architecture")

    def nvmlDeviceGetBrand(self, handle: Any, ref: Any) -> int:  # noqa: N802
        return self._uint("nvmlDeviceGetBrand", handle, ref, "brand")

    def _pair(self, symbol: str, handle: Any, first: Any, second: Any, attribute: str) -> int:
        code, gpu = self._gpu(symbol, handle)
        if gpu is None or code != SUCCESS:
            return code
        value = getattr(gpu, attribute)
        if value is None:
            return NOT_SUPPORTED
        _out(first).value, _out(second).value = value
        return code

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any, major: Any, minor: Any) -> int:  # noqa: N802
        return self._pair(
            "nvmlDeviceGetCudaComputeCapability", handle, major, minor, "cuda_compute_capability"
        )

    def nvmlDeviceGetMigMode(self, handle: Any, current: Any, pending: Any) -> int:  # noqa: N802
        return self._pair("nvmlDeviceGetMigMode", handle, current, pending, "mig_mode")

    # --- health events (NVML side) ------------------------------------------------------------------

    def nvmlEventSetCreate(self, ref: Any) -> int:  # noqa: N802
        code = self._enter("nvmlEventSetCreate")
        if code == SUCCESS:
            slot = ctypes.cast(ctypes.pointer(_out(ref)), ctypes.POINTER(ctypes.c_void_p))
            slot.contents.value = EVENT_SET_ADDRESS
            self.event_sets_open += 1
        return code

    def nvmlEventSetFree(self, event_set: Any) -> int:  # noqa: N802
        code = self._enter("nvmlEventSetFree")
        if code == SUCCESS:
            self.event_sets_open -= 1
        return code

    def nvmlDeviceGetSupportedEventTypes(self, handle: Any, ref: Any) -> int:  # noqa: N802
        return self._uint("nvmlDeviceGetSupportedEventTypes", handle, ref, "supported_events")

    def nvmlDeviceRegisterEvents(self, handle: Any, event_types: Any, event_set: Any) -> int:  # noqa: N802
        code, gpu = self._gpu("nvmlDeviceRegisterEvents", handle)
        if gpu is None or code != SUCCESS:
            return code
        if ctypes.cast(event_set, ctypes.c_void_p).value != EVENT_SET_ADDRESS:
            return INVALID_ARGUMENT
        wanted = int(event_types.value)
        if gpu.supported_events is None or wanted & ~gpu.supported_events:
            return NOT_SUPPORTED
        self.registered_events[self.gpus.index(gpu)] = wanted
        return code

    def nvmlEventSetWait_v2(self, event_set: Any, ref: Any, timeout_ms: Any) -> int:  # noqa: N802
        code = self._enter("nvmlEventSetWait_v2")
        if code != SUCCESS:
            return code
        if ctypes.cast(event_set, ctypes.c_void_p).value != EVENT_SET_ADDRESS:
            return INVALID_ARGUMENT
        with self._events_ready:
            # Only events of registered types on registered devices are delivered, like NVML.
            deliverable = self._events_ready.wait_for(
                lambda: bool(self._events), int(timeout_ms.value) / 1000
            )
            if not deliverable:
                return TIMEOUT
            event = self._events.pop(0)
        if isinstance(event, int):
            return event
        index, event_type, data = event
        if not self.registered_events.get(index, 0) & event_type:
            return TIMEOUT
        out = _out(ref)
        out.device = ctypes.cast(ctypes.c_void_p(HANDLE_BASE + index), pynvml.c_nvmlDevice_t)
        out.eventType, out.eventData = event_type, data
        return SUCCESS


# Fixture device key → the symbol that answers it.
_FIXTURE_SYMBOLS = {
    "name": "nvmlDeviceGetName",
    "uuid": "nvmlDeviceGetUUID",
    "memory_total": "nvmlDeviceGetMemoryInfo",
    "pci_bus_id": "nvmlDeviceGetPciInfo_v3",
    "minor": "nvmlDeviceGetMinorNumber",
    "cuda_compute_capability": "nvmlDeviceGetCudaComputeCapability",
    "architecture": "nvmlDeviceGetArchitecture",
    "brand": "nvmlDeviceGetBrand",
    "mig_mode": "nvmlDeviceGetMigMode",
}
_PLACEHOLDERS: dict[str, Any] = {
    "name": "unanswered",
    "uuid": "unanswered",
    "memory_total": 1,
    "pci_bus_id": "",
}


def _answer(recorded: Any, symbol: str, missing: set[str], errors: dict[str, int]) -> Any:
    """A recorded value, or ``None`` after noting the error the symbol answered instead."""
    if recorded == NOT_SUPPORTED_MARK:
        errors[symbol] = NOT_SUPPORTED
        return None
    if recorded == FUNCTION_NOT_FOUND_MARK:
        missing.add(symbol)
        return None
    if isinstance(recorded, dict):
        if set(recorded) - {"nvml_error", "message"} or not isinstance(recorded.get("nvml_error"), int):
            raise ValueError(f"recorded answer of {symbol} must be {{'nvml_error': <int>}}, got {recorded!r}")
        errors[symbol] = recorded["nvml_error"]
        return None
    return recorded


def _gpu_from_fixture(position: int, entry: Mapping[str, Any], missing: set[str]) -> FakeGpu:
    unknown = set(entry) - set(_FIXTURE_SYMBOLS) - {"index"}
    if unknown:
        raise ValueError(f"fixture device {position} has unknown keys {sorted(unknown)}")
    if entry.get("index", position) != position:
        raise ValueError(
            f"fixture device {position} says index {entry['index']}; devices must be in index order"
        )
    errors: dict[str, int] = {}
    values: dict[str, Any] = {}
    for key, symbol in _FIXTURE_SYMBOLS.items():
        if key not in entry:
            raise ValueError(f"fixture device {position} lacks {key!r}")
        value = _answer(entry[key], symbol, missing, errors)
        values[key] = _PLACEHOLDERS.get(key) if value is None else value
    pair = ("cuda_compute_capability", "mig_mode")
    for key in pair:
        if values[key] is not None:
            values[key] = (int(values[key][0]), int(values[key][1]))
    return FakeGpu(errors=errors, **values)


@contextmanager
def installed(lib: FakeNvmlLib) -> Iterator[FakeNvmlLib]:
    """Make pynvml use ``lib`` as its loaded library; restore every piece of pynvml state after."""
    saved = _save_pynvml_state()
    try:
        pynvml.nvmlLib = lib
        pynvml._nvmlGetFunctionPointer_cache = {}
        pynvml._nvmlLib_refcount = 0
        yield lib
    finally:
        _restore_pynvml_state(saved)


@contextmanager
def library_missing(reason: str = "libnvidia-ml.so.1: cannot open shared object file") -> Iterator[None]:
    """Make pynvml's own loader fail like on a node without the NVIDIA driver.

    Only the ``CDLL`` name inside the pynvml module is replaced (pynvml does ``from ctypes
    import *``), so ``_LoadNvmlLibrary`` really runs and really maps the OSError to
    ``NVMLError_LibraryNotFound``; nothing else in the process sees the change.
    """

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        raise OSError(f"{reason}: {name}")

    saved = _save_pynvml_state()
    try:
        pynvml.nvmlLib = None
        pynvml._nvmlGetFunctionPointer_cache = {}
        pynvml.CDLL = refuse
        yield
    finally:
        _restore_pynvml_state(saved)


def _save_pynvml_state() -> dict[str, Any]:
    return {
        "nvmlLib": pynvml.nvmlLib,
        "_nvmlGetFunctionPointer_cache": pynvml._nvmlGetFunctionPointer_cache,
        "_nvmlLib_refcount": pynvml._nvmlLib_refcount,
        "CDLL": pynvml.CDLL,
        "errcode_to_string": dict(pynvml.NVMLError._errcode_to_string),
    }


def _restore_pynvml_state(saved: dict[str, Any]) -> None:
    pynvml.nvmlLib = saved["nvmlLib"]
    pynvml._nvmlGetFunctionPointer_cache = saved["_nvmlGetFunctionPointer_cache"]
    pynvml._nvmlLib_refcount = saved["_nvmlLib_refcount"]
    pynvml.CDLL = saved["CDLL"]
    # NVMLError.__str__ caches strings it got from nvmlErrorString; drop what the fake taught it.
    pynvml.NVMLError._errcode_to_string.clear()
    pynvml.NVMLError._errcode_to_string.update(saved["errcode_to_string"])
