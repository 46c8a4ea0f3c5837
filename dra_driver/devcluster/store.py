"""Object storage of the dev cluster: one global resourceVersion, per-kind event logs, compaction.

Owns: the stored objects (immutable once stored, each with its JSON encoding cached so lists and
watches never re-encode or deep-copy), the global resourceVersion counter (an integer, deliberately
non-contiguous so clients that do arithmetic on it break here rather than in a real cluster), an
append-only event log per kind with a compaction horizon (watching from below it is 410 Expired),
the condition variable that wakes watchers, and the test hooks ``compact()``,
``close_all_watches()`` and ``hold()``. It must never apply API semantics (validation, status
handling, finalizers): that is ``registry``; callers hold ``lock`` around read-modify-write.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dra_driver.devcluster.errors import expired

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
Key = tuple[str, str]  # (namespace or "", name)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored object version. ``obj`` must never be mutated; ``raw`` is its JSON encoding."""

    obj: dict[str, Any]
    raw: bytes
    rv: int

    def copy(self) -> dict[str, Any]:
        """A private deep copy the caller may mutate."""
        copied: dict[str, Any] = json.loads(self.raw)
        return copied


@dataclass(frozen=True, slots=True)
class Event:
    """One change: ``entry`` is the object after it (for DELETED: its last state at the new RV)."""

    type: str
    rv: int
    entry: Entry
    prev: Entry | None


@dataclass
class _Log:
    events: list[Event] = field(default_factory=list)
    rvs: list[int] = field(default_factory=list)
    base: int = 0  # absolute index of events[0]
    dropped_rv: int = 0  # RV of the newest event compacted away


@dataclass
class Cursor:
    """A watcher's position in one kind's log."""

    resource: str
    index: int
    rv: int
    epoch: int


class Store:
    """Thread-safe object store; ``lock`` is a Condition over an RLock."""

    def __init__(self, seed: int | None = None, max_events: int = 100_000) -> None:
        self.lock = threading.Condition(threading.RLock())
        self._rng = random.Random(seed)  # noqa: S311 - RV steps need no cryptographic randomness
        self._rv = 1000 + self._rng.randint(0, 999)
        self._horizon = 0
        self._epoch = 0
        self._max_events = max_events
        self._objects: dict[str, dict[Key, Entry]] = {}
        self._logs: dict[str, _Log] = {}

    @property
    def current_rv(self) -> int:
        with self.lock:
            return self._rv

    @property
    def horizon(self) -> int:
        with self.lock:
            return self._horizon

    def _next_rv(self) -> int:
        self._rv += self._rng.randint(2, 9)
        return self._rv

    def get(self, resource: str, key: Key) -> Entry | None:
        with self.lock:
            return self._objects.get(resource, {}).get(key)

    def entries(self, resource: str, namespace: str | None = None) -> list[Entry]:
        """Current objects of ``resource``, optionally of one namespace, in (namespace, name) order."""
        with self.lock:
            table = self._objects.get(resource, {})
            keys = sorted(k for k in table if namespace is None or k[0] == namespace)
            return [table[k] for k in keys]

    def write(self, resource: str, key: Key, obj: dict[str, Any], event_type: str) -> Entry:
        """Store ``obj`` (ADDED/MODIFIED) or remove it (DELETED) at a fresh RV; wakes watchers.

        ``obj`` becomes owned by the store: its ``metadata.resourceVersion`` is set here and the
        caller must not touch it afterwards.
        """
        with self.lock:
            table = self._objects.setdefault(resource, {})
            prev = table.get(key)
            rv = self._next_rv()
            obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
            entry = Entry(obj, encode(obj), rv)
            if event_type == DELETED:
                table.pop(key, None)
            else:
                table[key] = entry
            log = self._logs.setdefault(resource, _Log())
            log.events.append(Event(event_type, rv, entry, prev))
            log.rvs.append(rv)
            if len(log.events) > self._max_events:
                self._drop(log, len(log.events) // 2)
            self.lock.notify_all()
            return entry

    def _drop(self, log: _Log, count: int) -> None:
        if count <= 0:
            return
        log.dropped_rv = log.rvs[count - 1]
        self._horizon = max(self._horizon, log.dropped_rv)
        del log.events[:count]
        del log.rvs[:count]
        log.base += count

    def compact(self) -> int:
        """Move the compaction horizon to now: every logged event is dropped; returns the horizon.

        Watches that start below the horizon, and live watchers that had not yet received a
        dropped event, get 410 Expired, as after an etcd compaction.
        """
        with self.lock:
            for log in self._logs.values():
                self._drop(log, len(log.events))
            self._horizon = self._rv
            self.lock.notify_all()
            return self._horizon

    def close_all_watches(self) -> None:
        """End every open watch stream (simulates an API server restart); new watches still work."""
        with self.lock:
            self._epoch += 1
            self.lock.notify_all()

    @contextmanager
    def hold(self) -> Iterator[Store]:
        """Hold the store lock so no watcher makes progress (in-process writes still work)."""
        with self.lock:
            yield self

    def cursor(self, resource: str, since_rv: int | None) -> Cursor:
        """A cursor after ``since_rv`` (None: after everything so far); 410 below the horizon."""
        with self.lock:
            log = self._logs.setdefault(resource, _Log())
            if since_rv is None:
                return Cursor(resource, log.base + len(log.events), self._rv, self._epoch)
            if since_rv < self._horizon:
                raise expired(f"too old resource version: {since_rv} ({self._horizon})")
            index = log.base + bisect.bisect_right(log.rvs, since_rv)
            return Cursor(resource, index, since_rv, self._epoch)

    def next_events(self, cursor: Cursor, timeout_s: float) -> list[Event] | None:
        """Events after ``cursor`` (advancing it), waiting up to ``timeout_s``; [] on timeout.

        None means the watch must end (``close_all_watches``); a cursor whose next event was
        compacted away raises 410 Expired.
        """
        with self.lock:
            log = self._logs.setdefault(cursor.resource, _Log())
            waited = False
            while True:
                if cursor.epoch != self._epoch:
                    return None
                if cursor.index < log.base:
                    raise expired(f"too old resource version: {cursor.rv} ({self._horizon})")
                pending = log.base + len(log.events) - cursor.index
                if pending > 0:
                    events = log.events[cursor.index - log.base :]
                    cursor.index += len(events)
                    cursor.rv = events[-1].rv
                    return events
                if waited or timeout_s <= 0:
                    cursor.rv = self._rv  # nothing pending: every event of this kind up to now was seen
                    return []
                self.lock.wait(timeout_s)
                waited = True

    def watch_epoch(self) -> int:
        with self.lock:
            return self._epoch
