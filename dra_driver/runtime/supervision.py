"""Supervised background loops: no loop of a long-running process may die silently.

Owns: ``Supervisor`` — runs each named loop body in its own daemon thread; when the body raises,
the exception is logged with its cause (type, message, traceback at debug), recorded, and the body
is called again after a jittered exponential backoff; a body that returns although its stop event
is not set counts as a failure too (a loop must run until stopped). Loops that handle their own
errors (the slice sync retries a failed sync itself) report each outcome with ``report`` so the
status shows it. ``statuses()`` is what the readiness endpoint and the loop metrics read.

Contracts: ``KeyboardInterrupt``/``SystemExit`` are never swallowed; a set stop event ends the
restart loop within one backoff wait; a loop's status is ``healthy`` when its thread runs and its
last outcome was not a failure.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("hdra.runtime")


@dataclass(frozen=True)
class LoopStatus:
    """One supervised loop as seen now."""

    name: str
    alive: bool
    healthy: bool
    restarts: int  # times the body was called again after it raised or returned early
    failures: int  # failures in a row, reported or raised; 0 after a success
    last_error: str | None
    last_ok_age_s: float | None  # seconds since the last success; None: none yet


@dataclass
class _Loop:
    name: str
    thread: threading.Thread | None = None
    restarts: int = 0
    failures: int = 0
    last_error: str | None = None
    last_ok: float | None = None


class Supervisor:
    """Runs named loop bodies and restarts them with backoff when they fail (see the module doc)."""

    def __init__(self, *, initial_backoff_s: float = 0.1, max_backoff_s: float = 30.0) -> None:
        if initial_backoff_s <= 0 or max_backoff_s < initial_backoff_s:
            raise ValueError("backoff must be positive and max_backoff_s >= initial_backoff_s")
        self._initial = initial_backoff_s
        self._max = max_backoff_s
        self._lock = threading.Lock()
        self._loops: dict[str, _Loop] = {}

    def run(self, name: str, body: Callable[[], None], stop: threading.Event) -> threading.Thread:
        """Start ``body`` in thread ``hdra-<name>``, restarting it until ``stop`` is set."""
        with self._lock:
            if name in self._loops and self._loops[name].thread is not None:
                thread = self._loops[name].thread
                if thread is not None and thread.is_alive():
                    raise RuntimeError(f"loop {name} is already running")
            loop = self._loops[name] = _Loop(name)
        thread = threading.Thread(
            target=self._restarting, args=(loop, body, stop), name=f"hdra-{name}", daemon=True
        )
        loop.thread = thread
        thread.start()
        return thread

    def report(self, name: str, error: str | None) -> None:
        """Record one outcome of loop ``name``'s own work: None for success, else the cause."""
        with self._lock:
            loop = self._loops.setdefault(name, _Loop(name))
            if error is None:
                loop.failures = 0
                loop.last_error = None
                loop.last_ok = time.monotonic()
            else:
                loop.failures += 1
                loop.last_error = error

    def statuses(self) -> list[LoopStatus]:
        now = time.monotonic()
        with self._lock:
            loops = list(self._loops.values())
        return [
            LoopStatus(
                name=loop.name,
                alive=loop.thread is not None and loop.thread.is_alive(),
                healthy=loop.thread is not None and loop.thread.is_alive() and loop.failures == 0,
                restarts=loop.restarts,
                failures=loop.failures,
                last_error=loop.last_error,
                last_ok_age_s=None if loop.last_ok is None else now - loop.last_ok,
            )
            for loop in sorted(loops, key=lambda item: item.name)
        ]

    def _restarting(self, loop: _Loop, body: Callable[[], None], stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                body()
            except Exception as exc:
                cause = f"{type(exc).__name__}: {exc}"
                log.error(
                    "loop %s failed, restarting: %s",
                    loop.name,
                    cause,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                    extra={"loop": loop.name},
                )
            else:
                if stop.is_set():
                    return
                cause = "the loop returned although it was not stopped"
                log.error("loop %s ended unexpectedly, restarting", loop.name, extra={"loop": loop.name})
            attempt += 1
            with self._lock:
                loop.restarts += 1
                loop.failures += 1
                loop.last_error = cause
            delay = min(self._max, self._initial * 2 ** min(attempt, 30)) * random.uniform(0.5, 1.0)  # noqa: S311
            stop.wait(delay)
