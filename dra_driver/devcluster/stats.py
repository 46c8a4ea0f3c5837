"""Request counters of the dev cluster, for tests that assert on API traffic.

Owns: thread-safe counts of requests received by HTTP method (fault-injected ones included),
of writes (POST, PUT, PATCH, DELETE) and of watch streams opened. It must never affect requests.
"""

from __future__ import annotations

import threading
from collections import Counter

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()
        self._watches = 0

    def record(self, method: str) -> None:
        with self._lock:
            self._by_method[method.upper()] += 1

    def record_watch(self) -> None:
        with self._lock:
            self._watches += 1

    @property
    def requests(self) -> dict[str, int]:
        """Requests by method, e.g. ``{"GET": 3, "POST": 1}`` (a copy)."""
        with self._lock:
            return dict(self._by_method)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._by_method.values())

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for method, n in self._by_method.items() if method in WRITE_METHODS)

    @property
    def watches(self) -> int:
        with self._lock:
            return self._watches

    def reset(self) -> None:
        with self._lock:
            self._by_method.clear()
            self._watches = 0
