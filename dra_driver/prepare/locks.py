"""One lock per claim UID, taken by every entry point that touches a claim's prepared state.

Owns: ``ClaimLocks``. ``NodePreparer`` holds one and takes it in ``prepare``, ``unprepare`` and
``remove_artifacts``, so gRPC calls (any number of worker threads), start-up recovery and the
periodic cleanup are serialised per claim, and different claims run concurrently. A lock exists
only while some call holds or waits for it, so memory does not grow with the claims ever seen.
It must never be held while waiting for another claim's lock (no lock ordering, no deadlock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class _Entry:
    lock: threading.Lock
    users: int  # calls holding or waiting for the lock; the entry is dropped at 0


class ClaimLocks:
    """Per-claim-UID mutual exclusion (not re-entrant)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _Entry] = {}

    @contextmanager
    def hold(self, uid: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.get(uid)
            if entry is None:
                entry = self._locks[uid] = _Entry(threading.Lock(), 0)
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
