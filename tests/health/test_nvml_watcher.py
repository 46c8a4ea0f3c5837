"""NvmlHealthWatcher on the fake NVML: XID, double-bit ECC and GPU-lost events through nvidia-ml-py."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dra_driver.devices import BackendError
from dra_driver.devices.health import DEFAULT_IGNORED_XIDS
from dra_driver.devices.nvml_health import NvmlHealthWatcher
from tests.support.fake_nvml import (
    DOUBLE_BIT_ECC,
    GPU_IS_LOST,
    GPU_UNAVAILABLE,
    NOT_SUPPORTED,
    XID_CRITICAL,
    FakeGpu,
    FakeNvmlLib,
    installed,
)


def gpus(count: int) -> list[FakeGpu]:
    return [
        FakeGpu(name="NVIDIA H200", uuid=f"GPU-0000000{i}-2222-3333-4444-555555555555", memory_total=2**34)
        for i in range(count)
    ]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def lib() -> Iterator[FakeNvmlLib]:
    with installed(FakeNvmlLib(gpus(2))) as fake:
        yield fake


@pytest.fixture
def watcher(lib: FakeNvmlLib) -> Iterator[NvmlHealthWatcher]:
    started = NvmlHealthWatcher(wait_ms=20)
    started.start()
    yield started
    started.stop()


def test_defaults_are_the_reference_xids() -> None:
    assert frozenset({13, 31, 43, 45, 68, 109}) == DEFAULT_IGNORED_XIDS


def test_registers_health_events_on_every_gpu(lib: FakeNvmlLib, watcher: NvmlHealthWatcher) -> None:
    assert watcher.watched == ["gpu-0", "gpu-1"]
    assert lib.registered_events == dict.fromkeys((0, 1), XID_CRITICAL | DOUBLE_BIT_ECC | GPU_UNAVAILABLE)
    assert watcher.unhealthy() == {}


def test_critical_xid_makes_the_card_unhealthy_and_notifies(
    lib: FakeNvmlLib, watcher: NvmlHealthWatcher
) -> None:
    changed = threading.Event()
    watcher.subscribe(changed.set)
    lib.push_event(1, XID_CRITICAL, 79)
    assert changed.wait(5.0)
    assert watcher.unhealthy() == {"gpu-1": "XID-79: NVML reported critical XID 79 on gpu-1"}


def test_ignorable_xid_changes_nothing(lib: FakeNvmlLib, watcher: NvmlHealthWatcher) -> None:
    calls: list[int] = []
    watcher.subscribe(lambda: calls.append(1))
    lib.push_event(0, XID_CRITICAL, 13)
    lib.push_event(0, XID_CRITICAL, 43)
    assert wait_until(lambda: lib.pending_events() == 0)
    # A later critical event on the other card proves the ignorable ones were consumed first.
    lib.push_event(1, DOUBLE_BIT_ECC)
    assert wait_until(lambda: "gpu-1" in watcher.unhealthy())
    assert set(watcher.unhealthy()) == {"gpu-1"}
    assert watcher.unhealthy()["gpu-1"].startswith("DoubleBitEcc: ")
    assert calls == [1]


def test_configured_ignored_xids_replace_the_defaults(lib: FakeNvmlLib) -> None:
    watcher = NvmlHealthWatcher(ignored_xids={79}, wait_ms=20)
    watcher.start()
    try:
        lib.push_event(0, XID_CRITICAL, 79)
        lib.push_event(1, XID_CRITICAL, 13)
        assert wait_until(lambda: "gpu-1" in watcher.unhealthy())
        assert set(watcher.unhealthy()) == {"gpu-1"}
    finally:
        watcher.stop()


def test_gpu_unavailable_event_is_gpu_lost(lib: FakeNvmlLib, watcher: NvmlHealthWatcher) -> None:
    lib.push_event(0, GPU_UNAVAILABLE)
    assert wait_until(lambda: "gpu-0" in watcher.unhealthy())
    assert watcher.unhealthy()["gpu-0"].startswith("GPULost: ")


def test_wait_answering_gpu_is_lost_marks_every_watched_card(
    lib: FakeNvmlLib, watcher: NvmlHealthWatcher
) -> None:
    lib.push_wait_error(GPU_IS_LOST)
    assert wait_until(lambda: set(watcher.unhealthy()) == {"gpu-0", "gpu-1"})
    assert all(message.startswith("GPULost: ") for message in watcher.unhealthy().values())


def test_unsupported_device_is_logged_and_not_watched(caplog: pytest.LogCaptureFixture) -> None:
    cards = gpus(2)
    cards[0].supported_events = None
    with installed(FakeNvmlLib(cards)) as lib:
        watcher = NvmlHealthWatcher(wait_ms=20)
        with caplog.at_level(logging.WARNING):
            watcher.start()
        try:
            assert watcher.watched == ["gpu-1"]
            assert "gpu-0: NVML health events are not supported" in caplog.text
            lib.push_event(1, XID_CRITICAL, 48)
            assert wait_until(lambda: "gpu-1" in watcher.unhealthy())
        finally:
            watcher.stop()
        assert lib.init_depth == 0 and lib.event_sets_open == 0


def test_stop_frees_the_event_set_and_shuts_nvml_down(lib: FakeNvmlLib) -> None:
    watcher = NvmlHealthWatcher(wait_ms=20)
    watcher.start()
    assert lib.init_depth == 1 and lib.event_sets_open == 1
    watcher.stop()
    assert lib.init_depth == 0 and lib.event_sets_open == 0


def test_event_set_failure_is_a_backend_error_naming_the_call() -> None:
    with installed(FakeNvmlLib(gpus(1), errors={"nvmlEventSetCreate": NOT_SUPPORTED})) as lib:
        with pytest.raises(BackendError, match="nvmlEventSetCreate failed"):
            NvmlHealthWatcher().start()
        assert lib.init_depth == 0
