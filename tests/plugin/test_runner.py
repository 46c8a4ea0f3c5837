"""ClaimRunner: every claim gets an answer, also after shutdown.

Per-claim locks are prepare's: tests/prepare/test_claim_locks.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dra_driver.plugin.runner import ClaimRunner
from tests.support.claim_preparer import FakePreparer, claim, device


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


def test_claims_after_shutdown_get_an_error_entry() -> None:
    runner = ClaimRunner(FakePreparer({"uid-a": (device("gpu-0"),)}), max_workers=1)
    runner.shutdown()
    results = runner.prepare_all([claim("uid-a")])
    assert "the DRA plugin is stopping" in results["uid-a"].error
    assert "uid-a" in results["uid-a"].error
    assert "the DRA plugin is stopping" in runner.unprepare_all([claim("uid-a")])["uid-a"]
