"""Supervised loops (issue 16 item 1): no background loop of the node plugin dies silently."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from dra_driver.controller import SliceController
from dra_driver.controller.loop import SYNC_LOOP, WATCH_LOOP
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice
from dra_driver.kube import KubeClient
from dra_driver.runtime import Supervisor
from tests.controller.test_publisher import NODE, Inventory, make_publisher, slices


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Breaking(Inventory):
    """Raises ``error`` on the first ``times`` calls, like ``build_slices`` meeting a bad card."""

    def __init__(self, count: int, error: Exception, times: int) -> None:
        super().__init__(count)
        self.error = error
        self.left = times

    def __call__(self) -> list[AcceleratorDevice]:
        if self.left > 0:
            self.left -= 1
            raise self.error
        return super().__call__()


@pytest.mark.parametrize(
    "error",
    [ValueError("two devices are named 'gpu-0'"), RuntimeError("a bug")],
    ids=["ValueError", "RuntimeError"],
)
def test_the_sync_thread_survives_any_exception(
    cluster: DevCluster, kube: KubeClient, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Kill-the-sync-thread (issue 16): a ValueError out of the slice builder once killed the sync
    thread for good, and every prepare failed from then on. Now it is a failed sync: logged with
    its cause, reported, retried."""
    cluster.create_node(NODE)
    caplog.set_level(logging.WARNING, logger="hdra.controller")
    supervisor = Supervisor()
    inventory = Breaking(2, error, times=3)
    controller = SliceController(
        make_publisher(kube, inventory), resync_seconds=60.0, max_backoff_seconds=0.05, supervisor=supervisor
    )
    controller.start()
    try:
        assert wait_until(lambda: controller.last_result is not None and controller.last_error is None)
        assert len(slices(kube)) == 1
        assert inventory.left == 0
        failed = [r for r in caplog.records if r.getMessage().startswith("slice sync failed")]
        assert len(failed) == 3 and all(str(error) in r.getMessage() for r in failed)
        status = {s.name: s for s in supervisor.statuses()}
        assert status[SYNC_LOOP].alive and status[SYNC_LOOP].healthy and status[SYNC_LOOP].failures == 0
        assert status[WATCH_LOOP].alive
        # and it keeps working afterwards: a change is still published
        inventory.devices.pop()
        controller.request_sync()
        assert wait_until(lambda: controller.publisher.published_pool.names() == ["gpu-0"])
    finally:
        controller.stop()


def test_a_failing_sync_is_visible_in_the_status(cluster: DevCluster, kube: KubeClient) -> None:
    cluster.create_node(NODE)
    supervisor = Supervisor()
    inventory = Breaking(1, ValueError("bad card"), times=10**6)
    controller = SliceController(
        make_publisher(kube, inventory), resync_seconds=60.0, max_backoff_seconds=0.05, supervisor=supervisor
    )
    controller.start()
    try:
        assert wait_until(lambda: {s.name: s for s in supervisor.statuses()}[SYNC_LOOP].failures >= 2)
        status = {s.name: s for s in supervisor.statuses()}[SYNC_LOOP]
        assert status.alive and not status.healthy
        assert status.last_error == "ValueError: bad card"
    finally:
        controller.stop()


def test_a_loop_that_raises_is_restarted_with_its_cause_recorded() -> None:
    supervisor = Supervisor(initial_backoff_s=0.01, max_backoff_s=0.02)
    stop = threading.Event()
    calls: list[int] = []
    done = threading.Event()

    def body() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("boom")
        supervisor.report("flaky", None)
        done.set()
        stop.wait()

    thread = supervisor.run("flaky", body, stop)
    assert done.wait(10)
    (status,) = supervisor.statuses()
    assert status.restarts == 2 and status.alive and status.healthy
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_a_loop_that_returns_early_counts_as_failed() -> None:
    supervisor = Supervisor(initial_backoff_s=0.01, max_backoff_s=0.02)
    stop = threading.Event()
    thread = supervisor.run("short", lambda: None, stop)
    assert wait_until(lambda: supervisor.statuses()[0].restarts >= 2)
    assert supervisor.statuses()[0].last_error == "the loop returned although it was not stopped"
    stop.set()
    thread.join(5)


def test_a_non_positive_resync_is_refused(kube: KubeClient) -> None:
    with pytest.raises(ValueError, match="resync_seconds must be positive"):
        SliceController(make_publisher(kube, Inventory(1)), resync_seconds=0)
