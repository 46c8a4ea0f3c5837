"""ClaimRunner: the same claim UID is serialised, its lock disappears when unused, shutdown answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dra_driver.plugin.runner import ClaimRunner
from dra_driver.prepare.api import ClaimRef, PrepareResult
from tests.support.claim_preparer import FakePreparer, claim, device


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


def test_same_claim_never_runs_twice_at_once_and_its_lock_is_dropped() -> None:
    preparer = FakePreparer({"uid-a": (device("gpu-0"),)})
    runner = ClaimRunner(preparer, max_workers=4)
    active = 0
    max_active = 0
    counter = threading.Lock()
    first_entered = threading.Event()
    release = threading.Event()

    def hook(action: str, ref: ClaimRef) -> None:
        nonlocal active, max_active
        with counter:
            active += 1
            max_active = max(max_active, active)
        first_entered.set()
        release.wait(10)
        with counter:
            active -= 1

    preparer.hook = hook
    results: list[dict[str, PrepareResult]] = []
    threads = [threading.Thread(target=lambda: results.append(runner.prepare_all([claim("uid-a")])))]
    threads[0].start()
    assert first_entered.wait(10)
    threads.append(threading.Thread(target=lambda: results.append(runner.prepare_all([claim("uid-a")]))))
    threads[1].start()
    # The second call is queued on the claim's lock (it holds a reference but cannot enter).
    _wait_until(lambda: runner.locks.users("uid-a") == 2, "the second call to wait for the claim lock")
    release.set()
    for thread in threads:
        thread.join(10)
    assert max_active == 1
    assert [r["uid-a"].devices for r in results] == [(device("gpu-0"),), (device("gpu-0"),)]
    assert runner.locks.users("uid-a") == 0
    assert len(runner.locks) == 0
    runner.shutdown()


def test_claims_after_shutdown_get_an_error_entry() -> None:
    runner = ClaimRunner(FakePreparer({"uid-a": (device("gpu-0"),)}), max_workers=1)
    runner.shutdown()
    results = runner.prepare_all([claim("uid-a")])
    assert "the DRA plugin is stopping" in results["uid-a"].error
    assert "uid-a" in results["uid-a"].error
    assert "the DRA plugin is stopping" in runner.unprepare_all([claim("uid-a")])["uid-a"]
