"""The retry policy for API calls: bounded attempts, a total deadline, jittered backoff, Retry-After.

Owns: :class:`RetryPolicy` and the tenacity machinery built from it. :func:`call_with_retry` retries a
call that already raises hdra's exceptions (see :mod:`.errors`) when the failure is transient
(5xx, 429, no response); :func:`retry_on_conflict` repeats a read-modify-write on 409 Conflict
("409 means re-read", DESIGN section 9); :meth:`RetryPolicy.reconnect_delay` paces watch reconnects.
It must never retry NotFound, AlreadyExists, Invalid or Conflict inside a single call: those are
answers, not outages, and a blind retry of a stale write can never succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .errors import Conflict, KubeError, ServerError, TooManyRequests, Unavailable

log = logging.getLogger("hdra.kube")

R = TypeVar("R")

# Failures worth another attempt: the same request may succeed once the server or network recovers.
TRANSIENT: tuple[type[KubeError], ...] = (ServerError, Unavailable, TooManyRequests)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. The defaults fit well inside the kubelet's 45 s prepare deadline.

    ``attempts`` and ``deadline_s`` bound every single call (whichever is hit first ends it);
    ``backoff_*`` shape the full-jitter exponential wait between attempts; ``conflict_attempts``
    bounds the re-read loop of ``modify``; ``request_timeout_s`` bounds each HTTP request.
    """

    attempts: int = 6
    deadline_s: float = 30.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    conflict_attempts: int = 5
    request_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for field in ("attempts", "conflict_attempts"):
            if getattr(self, field) < 1:
                raise ValueError(f"RetryPolicy.{field} must be at least 1, got {getattr(self, field)!r}")
        for field in ("deadline_s", "backoff_initial_s", "backoff_max_s", "request_timeout_s"):
            if not getattr(self, field) > 0:
                raise ValueError(f"RetryPolicy.{field} must be positive, got {getattr(self, field)!r}")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"RetryPolicy.backoff_max_s ({self.backoff_max_s}) is below "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )

    def backoff(self) -> wait_random_exponential:
        """Full-jitter exponential backoff: uniform in [0, min(max, initial * 2**n)]."""
        return wait_random_exponential(multiplier=self.backoff_initial_s, max=self.backoff_max_s)

    def reconnect_delay(self, failures: int) -> float:
        """The backoff after ``failures`` consecutive failures, for loops that are not one call (watch)."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = max(1, failures)
        return float(self.backoff()(state))


def _exception(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return None if outcome is None or not outcome.failed else outcome.exception()


class wait_server_hint(wait_base):  # noqa: N801 - tenacity's naming style for wait strategies
    """Wait what the server asked for (Retry-After), else ``fallback``; never past the deadline."""

    def __init__(self, fallback: wait_base, deadline_s: float) -> None:
        self.fallback = fallback
        self.deadline_s = deadline_s

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _exception(retry_state)
        if isinstance(exc, KubeError) and exc.retry_after is not None:
            desired = exc.retry_after
        else:
            desired = self.fallback(retry_state)
        remaining = self.deadline_s - (retry_state.seconds_since_start or 0.0)
        return max(0.0, min(desired, remaining))


class stop_when_hint_exceeds_deadline(stop_base):  # noqa: N801 - tenacity's naming style
    """Give up at once when the server's Retry-After lies beyond the deadline: waiting is futile."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = _exception(retry_state)
        if not isinstance(exc, KubeError) or exc.retry_after is None:
            return False
        return (retry_state.seconds_since_start or 0.0) + exc.retry_after > self.deadline_s


def _log_retry(describe: str, limit: int) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        log.warning(
            "%s failed (attempt %d of at most %d), retrying in %.2fs: %s",
            describe,
            retry_state.attempt_number,
            limit,
            retry_state.upcoming_sleep,
            _exception(retry_state),
        )

    return before_sleep


def call_with_retry(policy: RetryPolicy, describe: str, fn: Callable[[], R]) -> R:
    """Run ``fn`` (which raises hdra exceptions) until it succeeds, fails for good, or the budget ends.

    On exhaustion the last transient error is re-raised with a note saying how many attempts were
    made, so the message still names the verb and object, and the traceback says we did try.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(TRANSIENT),
        stop=(
            stop_after_attempt(policy.attempts)
            | stop_after_delay(policy.deadline_s)
            | stop_when_hint_exceeds_deadline(policy.deadline_s)
        ),
        wait=wait_server_hint(policy.backoff(), policy.deadline_s),
        before_sleep=_log_retry(describe, policy.attempts),
        reraise=True,
    )
    try:
        return retrying(fn)
    except TRANSIENT as exc:
        attempts = retrying.statistics.get("attempt_number", 1)
        elapsed = retrying.statistics.get("delay_since_first_attempt", 0.0)
        exc.add_note(
            f"{describe}: gave up after {attempts} attempt(s) in {elapsed:.1f}s "
            f"(limits: {policy.attempts} attempts, {policy.deadline_s:g}s)"
        )
        log.error("%s gave up after %d attempt(s): %s", describe, attempts, exc)
        raise


def retry_on_conflict(policy: RetryPolicy, describe: str, fn: Callable[[], R]) -> R:
    """Repeat a whole read-modify-write ``fn`` while it ends in 409 Conflict, with a short jittered pause.

    Each repetition re-reads the object, so the next write carries the current resourceVersion.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(Conflict),
        stop=stop_after_attempt(policy.conflict_attempts) | stop_after_delay(policy.deadline_s),
        wait=wait_random_exponential(multiplier=0.02, max=min(1.0, policy.backoff_max_s)),
        before_sleep=_log_retry(f"{describe} (conflict, re-reading)", policy.conflict_attempts),
        reraise=True,
    )
    return retrying(fn)
