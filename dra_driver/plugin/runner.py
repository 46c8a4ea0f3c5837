"""Runs a ``ClaimPreparer`` for the claims of one kubelet request: concurrent across claims, serial per claim.

Owns: the shared worker pool, the per-claim-UID locks (created on first use, dropped when no call
holds or waits for them) and the translation of every outcome into a per-claim result: devices, a
``PrepareError`` message, or an error string naming an unexpected exception's type and message.
It must never raise for a single claim's failure (the kubelet would discard the whole batch) and
never talks gRPC.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from dra_driver.prepare.api import ClaimPreparer, ClaimRef, PrepareError, PrepareResult

LOG = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _UidLock:
    lock: threading.Lock
    users: int  # calls holding or waiting for the lock; the entry is dropped at 0


class UidLocks:
    """One lock per claim UID, alive only while some call holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _UidLock] = {}

    @contextmanager
    def hold(self, uid: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.get(uid)
            if entry is None:
                entry = self._locks[uid] = _UidLock(threading.Lock(), 0)
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[uid]

    def users(self, uid: str) -> int:
        """How many calls currently hold or wait for ``uid`` (0 when its lock is gone)."""
        with self._guard:
            entry = self._locks.get(uid)
            return 0 if entry is None else entry.users

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


class ClaimRunner:
    """Calls ``preparer`` for each claim of a batch on a shared pool and collects per-claim results."""

    def __init__(self, preparer: ClaimPreparer, *, max_workers: int = 8) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._preparer = preparer
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hdra-claim")
        self.locks = UidLocks()

    def prepare_all(self, claims: Sequence[ClaimRef]) -> dict[str, PrepareResult]:
        """One result per distinct claim UID; never raises for a claim's failure."""
        return self._run_all(claims, self._prepare_one, lambda reason: PrepareResult(error=reason))

    def unprepare_all(self, claims: Sequence[ClaimRef]) -> dict[str, str]:
        """One error string per distinct claim UID ("" = success); never raises for a claim's failure."""
        return self._run_all(claims, self._unprepare_one, lambda reason: reason)

    def shutdown(self) -> None:
        """Stop accepting work; queued claims are cancelled, running ones finish in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run_all(
        self,
        claims: Sequence[ClaimRef],
        one: Callable[[ClaimRef], T],
        aborted: Callable[[str], T],
    ) -> dict[str, T]:
        futures: list[tuple[ClaimRef, Future[T] | None]] = []
        for claim in claims:
            try:
                futures.append((claim, self._pool.submit(one, claim)))
            except RuntimeError:  # the pool was shut down: the plugin is stopping
                futures.append((claim, None))
        results: dict[str, T] = {}
        for claim, future in futures:
            # The per-claim functions catch every exception, so result() can only fail for a
            # claim cancelled by shutdown(); that still has to become an answer for this claim.
            stopping = f"claim {claim} was not processed: the DRA plugin is stopping"
            if future is None:
                results[claim.uid] = aborted(stopping)
                continue
            try:
                results[claim.uid] = future.result()
            except CancelledError:
                results[claim.uid] = aborted(stopping)
        return results

    def _prepare_one(self, claim: ClaimRef) -> PrepareResult:
        try:
            with self.locks.hold(claim.uid):
                devices = self._preparer.prepare(claim)
        except PrepareError as exc:
            LOG.warning("preparing claim %s failed: %s", claim, exc)
            return PrepareResult(error=_message(exc, "preparing", claim))
        except Exception as exc:
            LOG.exception("unexpected error preparing claim %s", claim)
            return PrepareResult(error=_unexpected(exc, "preparing", claim))
        return PrepareResult(devices=tuple(devices))

    def _unprepare_one(self, claim: ClaimRef) -> str:
        try:
            with self.locks.hold(claim.uid):
                self._preparer.unprepare(claim)
        except PrepareError as exc:
            LOG.warning("unpreparing claim %s failed: %s", claim, exc)
            return _message(exc, "unpreparing", claim)
        except Exception as exc:
            LOG.exception("unexpected error unpreparing claim %s", claim)
            return _unexpected(exc, "unpreparing", claim)
        return ""


def _message(exc: PrepareError, action: str, claim: ClaimRef) -> str:
    text = str(exc)
    # An empty error string would read as success to the kubelet.
    return text if text else f"{action} claim {claim} failed ({type(exc).__name__} without a message)"


def _unexpected(exc: Exception, action: str, claim: ClaimRef) -> str:
    return f"unexpected {type(exc).__name__} while {action} claim {claim}: {exc}"
