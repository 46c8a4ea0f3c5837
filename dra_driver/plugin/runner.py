"""Runs a ``ClaimPreparer`` for the claims of one kubelet request, concurrently across claims.

Owns: the shared worker pool (a request for one claim runs on the calling gRPC thread: a hand-off to
the pool would only add a thread switch) and the translation of every outcome into a per-claim
result: devices,
a ``PrepareError`` message, or an error string naming an unexpected exception's type and message.
Calls for one claim UID are serialised by the preparer itself (``dra_driver.prepare.locks``), which
also serialises them against recovery and cleanup. It must never raise for a single claim's failure
(the kubelet would discard the whole batch) and never talks gRPC.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TypeVar

from dra_driver.prepare.api import ClaimPreparer, ClaimRef, PrepareError, PrepareResult
from dra_driver.runtime import log_fields

LOG = logging.getLogger("hdra.plugin")

T = TypeVar("T")


class ClaimRunner:
    """Calls ``preparer`` for each claim of a batch on a shared pool and collects per-claim results."""

    def __init__(self, preparer: ClaimPreparer, *, max_workers: int = 8) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._preparer = preparer
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hdra-claim")
        self._stopped = False

    def prepare_all(self, claims: Sequence[ClaimRef]) -> dict[str, PrepareResult]:
        """One result per distinct claim UID; never raises for a claim's failure."""
        return self._run_all(claims, self._prepare_one, lambda reason: PrepareResult(error=reason))

    def unprepare_all(self, claims: Sequence[ClaimRef]) -> dict[str, str]:
        """One error string per distinct claim UID ("" = success); never raises for a claim's failure."""
        return self._run_all(claims, self._unprepare_one, lambda reason: reason)

    def shutdown(self) -> None:
        """Stop accepting work; queued claims are cancelled, running ones finish in the background."""
        self._stopped = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run_all(
        self,
        claims: Sequence[ClaimRef],
        one: Callable[[ClaimRef], T],
        aborted: Callable[[str], T],
    ) -> dict[str, T]:
        if len({claim.uid for claim in claims}) == 1 and not self._stopped:
            return {claims[0].uid: one(claims[0])}
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
        with log_fields(claim=f"{claim.namespace}/{claim.name}", uid=claim.uid):
            return self._prepare_logged(claim)

    def _prepare_logged(self, claim: ClaimRef) -> PrepareResult:
        try:
            devices = self._preparer.prepare(claim)
        except PrepareError as exc:
            LOG.warning("preparing claim %s failed: %s", claim, exc)
            return PrepareResult(error=_message(exc, "preparing", claim))
        except Exception as exc:
            LOG.exception("unexpected error preparing claim %s", claim)
            return PrepareResult(error=_unexpected(exc, "preparing", claim))
        return PrepareResult(devices=tuple(devices))

    def _unprepare_one(self, claim: ClaimRef) -> str:
        with log_fields(claim=f"{claim.namespace}/{claim.name}", uid=claim.uid):
            return self._unprepare_logged(claim)

    def _unprepare_logged(self, claim: ClaimRef) -> str:
        try:
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
