"""FakeNvmlLib itself: it behaves like libnvidia-ml under nvidia-ml-py and leaves pynvml clean."""

from __future__ import annotations

import pynvml
import pytest

from tests.devices.conftest import H200_UUID, two_gpus
from tests.support.fake_nvml import FakeNvmlLib, installed, library_missing


def test_calls_before_init_are_uninitialized(fake_nvml: FakeNvmlLib) -> None:
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetCount()


def test_wrappers_see_real_values(fake_nvml: FakeNvmlLib) -> None:
    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        assert pynvml.nvmlDeviceGetUUID(handle) == H200_UUID
        assert pynvml.nvmlDeviceGetCudaComputeCapability(handle) == (9, 0)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
        assert (memory.total, memory.reserved) == (150754820096, 0)
        pci = pynvml.nvmlDeviceGetPciInfo_v3(pynvml.nvmlDeviceGetHandleByIndex(1))
        # nvidia-ml-py's printable structs decode char arrays to str.
        assert (pci.bus, pci.busId, pci.busIdLegacy) == (0x3B, "00000000:3B:00.0", "0000:3B:00.0")
        assert pynvml.nvmlSystemGetDriverVersion() == "580.95.05"
        with pytest.raises(pynvml.NVMLError_InvalidArgument):
            pynvml.nvmlDeviceGetHandleByIndex(2)
    finally:
        pynvml.nvmlShutdown()


def test_short_buffer_is_insufficient_size(fake_nvml: FakeNvmlLib) -> None:
    fake_nvml.gpus[0].name = "N" * 200
    pynvml.nvmlInit()
    try:
        with pytest.raises(pynvml.NVMLError_InsufficientSize):
            pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    finally:
        pynvml.nvmlShutdown()


def test_error_strings_come_from_the_library(fake_nvml: FakeNvmlLib) -> None:
    fake_nvml.errors["nvmlInitWithFlags"] = 4242
    with pytest.raises(pynvml.NVMLError) as caught:
        pynvml.nvmlInit()
    assert str(caught.value) == "Unknown Error 4242"
    assert "nvmlErrorString" in fake_nvml.calls


def test_installed_restores_pynvml_state() -> None:
    before = (pynvml.nvmlLib, pynvml._nvmlGetFunctionPointer_cache, pynvml._nvmlLib_refcount, pynvml.CDLL)
    known = dict(pynvml.NVMLError._errcode_to_string)
    lib = FakeNvmlLib(two_gpus(), errors={"nvmlInitWithFlags": 4243})
    with installed(lib):
        assert pynvml.nvmlLib is lib
        with pytest.raises(pynvml.NVMLError) as caught:
            pynvml.nvmlInit()
        assert "4243" in str(caught.value)
    with library_missing():
        assert pynvml.nvmlLib is None
    after = (pynvml.nvmlLib, pynvml._nvmlGetFunctionPointer_cache, pynvml._nvmlLib_refcount, pynvml.CDLL)
    assert all(x is y for x, y in zip(before, after, strict=True))
    assert pynvml.NVMLError._errcode_to_string == known
