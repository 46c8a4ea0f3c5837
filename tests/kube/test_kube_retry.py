"""The retry policy on its own: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from dra_driver.kube.errors import (
    AlreadyExists,
    Conflict,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unavailable,
)
from dra_driver.kube.retry import RetryPolicy, call_with_retry, retry_on_conflict

FAST = RetryPolicy(attempts=4, deadline_s=5.0, backoff_initial_s=0.001, backoff_max_s=0.01)


def error(cls: type[KubeError], retry_after: float | None = None) -> KubeError:
    return cls(
        verb="update",
        kind="ResourceSlice",
        name="s1",
        namespace=None,
        code=None,
        reason=None,
        detail="injected",
        retry_after=retry_after,
    )


def failing(
    times: int, cls: type[KubeError], retry_after: float | None = None
) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error(cls, retry_after)
        return "ok"

    return fn, calls


@pytest.mark.parametrize("cls", [ServerError, Unavailable, TooManyRequests])
def test_transient_failures_are_retried_until_success(cls: type[KubeError]) -> None:
    fn, calls = failing(3, cls)
    assert call_with_retry(FAST, "update ResourceSlice s1", fn) == "ok"
    assert len(calls) == 4


@pytest.mark.parametrize("cls", [NotFound, AlreadyExists, Invalid, Conflict, KubeError])
def test_answers_are_never_retried(cls: type[KubeError]) -> None:
    fn, calls = failing(1, cls)
    with pytest.raises(cls):
        call_with_retry(FAST, "update ResourceSlice s1", fn)
    assert len(calls) == 1


def test_attempts_are_bounded_and_the_last_error_is_raised_with_a_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fn, calls = failing(100, ServerError)
    with caplog.at_level(logging.WARNING, logger="hdra.kube"), pytest.raises(ServerError) as raised:
        call_with_retry(FAST, "update ResourceSlice s1", fn)
    assert len(calls) == FAST.attempts
    assert 'update ResourceSlice "s1"' in str(raised.value)
    assert any("gave up after 4 attempt(s)" in note for note in raised.value.__notes__)
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == FAST.attempts - 1
    assert "injected" in retries[0].getMessage()


def test_total_deadline_ends_retries_before_the_attempt_limit() -> None:
    policy = RetryPolicy(attempts=1000, deadline_s=0.3, backoff_initial_s=0.05, backoff_max_s=0.05)
    fn, calls = failing(10_000, Unavailable)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        call_with_retry(policy, "get Node n1", fn)
    assert time.monotonic() - started < 3.0
    assert 1 < len(calls) < 1000


def test_retry_after_is_waited_for() -> None:
    fn, calls = failing(1, TooManyRequests, retry_after=0.3)
    started = time.monotonic()
    assert call_with_retry(FAST, "list Node", fn) == "ok"
    assert time.monotonic() - started >= 0.28
    assert len(calls) == 2


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    fn, calls = failing(5, TooManyRequests, retry_after=60.0)
    started = time.monotonic()
    with pytest.raises(TooManyRequests):
        call_with_retry(FAST, "list Node", fn)
    assert len(calls) == 1
    assert time.monotonic() - started < 2.0


def test_conflicts_repeat_the_whole_read_modify_write_a_bounded_number_of_times() -> None:
    fn, calls = failing(2, Conflict)
    assert retry_on_conflict(FAST, "modify ResourceClaim ns/c", fn) == "ok"
    assert len(calls) == 3
    endless, endless_calls = failing(100, Conflict)
    with pytest.raises(Conflict):
        retry_on_conflict(FAST, "modify ResourceClaim ns/c", endless)
    assert len(endless_calls) == FAST.conflict_attempts


def test_reconnect_delay_is_jittered_and_capped() -> None:
    policy = RetryPolicy(backoff_initial_s=0.1, backoff_max_s=1.0)
    delays = [policy.reconnect_delay(n) for n in range(1, 30)]
    assert all(0 <= d <= 1.0 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attempts": 0}, "attempts"),
        ({"deadline_s": 0}, "deadline_s"),
        ({"conflict_attempts": 0}, "conflict_attempts"),
        ({"backoff_initial_s": 2.0, "backoff_max_s": 1.0}, "backoff_max_s"),
    ],
)
def test_policy_rejects_nonsense_naming_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=f"RetryPolicy.{field}"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
