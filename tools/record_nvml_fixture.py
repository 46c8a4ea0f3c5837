"""Record what NVML answers on a real NVIDIA host, as a fixture for the tests' ``FakeNvmlLib``.

Run once on a GPU node (with hdra installed, e.g. ``.venv/bin/python tools/record_nvml_fixture.py
> tests/devices/fixtures/nvml_<card>x<n>.json``). It prints JSON with:

* ``driver_version`` (raw ``nvmlSystemGetDriverVersion``), ``cuda_driver_version`` (raw integer);
* ``devices``: per index the name, UUID, total memory, NVML PCI bus id, minor number, CUDA
  compute capability, architecture and brand (raw NVML enum values) and MIG mode;
* ``accelerator_devices``: what ``NvidiaBackend`` discovered on the same host (or its error).

An answer NVML refuses is recorded as ``"NotSupported"``, ``"FunctionNotFound"`` or
``{"nvml_error": <code>, "message": …}``; ``FakeNvmlLib.from_fixture`` replays all three.
This script only reads: it never changes GPU settings, and it always shuts NVML down again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pynvml

from dra_driver.devices import BackendError
from dra_driver.devices.nvidia import NvidiaBackend

FORMAT = "hdra.io/nvml-fixture/v1"


def _text(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def answer(call: Callable[[], Any]) -> Any:
    """One NVML answer, or the marker of the error it gave instead."""
    try:
        return _text(call())
    except pynvml.NVMLError as error:
        if error.value == pynvml.NVML_ERROR_NOT_SUPPORTED:
            return "NotSupported"
        if error.value == pynvml.NVML_ERROR_FUNCTION_NOT_FOUND:
            return "FunctionNotFound"
        return {"nvml_error": int(error.value), "message": str(error)}


def _device(index: int) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    capability = answer(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(handle))
    mig = answer(lambda: pynvml.nvmlDeviceGetMigMode(handle))
    return {
        "index": index,
        "name": answer(lambda: pynvml.nvmlDeviceGetName(handle)),
        "uuid": answer(lambda: pynvml.nvmlDeviceGetUUID(handle)),
        "memory_total": answer(lambda: int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)),
        "pci_bus_id": answer(lambda: pynvml.nvmlDeviceGetPciInfo_v3(handle).busId),
        "minor": answer(lambda: pynvml.nvmlDeviceGetMinorNumber(handle)),
        "cuda_compute_capability": list(capability) if isinstance(capability, tuple) else capability,
        "architecture": answer(lambda: pynvml.nvmlDeviceGetArchitecture(handle)),
        "brand": answer(lambda: pynvml.nvmlDeviceGetBrand(handle)),
        "mig_mode": list(mig) if isinstance(mig, list | tuple) else mig,
    }


def record() -> dict[str, Any]:
    """Everything ``FakeNvmlLib.from_fixture`` needs, plus the backend's own view."""
    pynvml.nvmlInit()
    try:
        fixture: dict[str, Any] = {
            "format": FORMAT,
            "recorded_with": {
                "nvidia_ml_py": metadata.version("nvidia-ml-py"),
                "nvml": answer(pynvml.nvmlSystemGetNVMLVersion),
            },
            "driver_version": answer(pynvml.nvmlSystemGetDriverVersion),
            "cuda_driver_version": answer(pynvml.nvmlSystemGetCudaDriverVersion),
            "devices": [_device(index) for index in range(pynvml.nvmlDeviceGetCount())],
        }
    finally:
        pynvml.nvmlShutdown()
    try:
        devices = NvidiaBackend().discover()
        fixture["accelerator_devices"] = [device.model_dump(mode="json") for device in devices]
    except BackendError as error:
        fixture["accelerator_devices"] = {"error": str(error)}
    return fixture


def main() -> int:
    try:
        fixture = record()
    except pynvml.NVMLError as error:
        print(f"record_nvml_fixture: NVML failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    json.dump(fixture, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
