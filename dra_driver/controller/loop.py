"""The slice controller loop: watch our own slices, re-sync on change, on a timer and on demand.

Owns: the threads around a ``SlicePublisher`` — one that watches this node's slices of this driver
and one that syncs. A watch event that is not the echo of our own write (someone deleted or edited
a slice, or the kubelet wiped them at its start) marks the state dirty; the sync thread then
repairs it after a short debounce. Every (re-)list of the watch also marks the state dirty: a
slice deleted before the watch's first list, or while no watch was open and before anything was
cached, produces no event, so only a comparison after the list can see it. Failed syncs are
retried with jittered backoff; a periodic resync is the safety net for anything the watch missed.

Any exception of a sync counts as a failed sync (``build_slices`` raises ``ValueError``, a model
``ValidationError``): it is logged with its cause, kept in ``last_error`` and reported to the
supervisor, and the sync is retried; a sync thread never dies of one. Both threads run under a
``Supervisor`` (the node agent's, or an own one), which restarts a loop that breaks anyway.

It must never build slices or decide generations itself: that is the publisher's job.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from dra_driver.controller.publisher import PublishError, SlicePublisher, SyncResult
from dra_driver.kube import KubeError, watch
from dra_driver.runtime import Supervisor

log = logging.getLogger("hdra.controller")

SYNC_LOOP = "slice-sync"
WATCH_LOOP = "slice-watch"


class SliceController:
    """Runs a publisher until stopped. ``start()`` returns after the first sync attempt."""

    def __init__(
        self,
        publisher: SlicePublisher,
        *,
        resync_seconds: float = 30.0,
        debounce_seconds: float = 0.05,
        max_backoff_seconds: float = 5.0,
        supervisor: Supervisor | None = None,
    ) -> None:
        if resync_seconds <= 0:
            raise ValueError(f"resync_seconds must be positive, got {resync_seconds}")
        self._publisher = publisher
        self._supervisor = supervisor or Supervisor()
        self._resync = resync_seconds
        self._debounce = debounce_seconds
        self._max_backoff = max_backoff_seconds
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._synced = threading.Condition()
        self._sync_count = 0
        self.last_result: SyncResult | None = None
        self.last_error: str | None = None
        self._threads: list[threading.Thread] = []

    @property
    def publisher(self) -> SlicePublisher:
        return self._publisher

    def start(self, stop: threading.Event | None = None) -> None:
        """Start both loops and wait for the first sync attempt, at most 30 s, or until ``stop``."""
        self._dirty.set()
        self._threads = [
            self._supervisor.run(SYNC_LOOP, self._sync_loop, self._stop),
            self._supervisor.run(WATCH_LOOP, self._watch_loop, self._stop),
        ]
        self.wait_for_sync(timeout=30.0, stop=stop)

    def stop(self, grace_seconds: float = 2.0) -> None:
        self._stop.set()
        self._dirty.set()
        # A thread stuck in an API call (retries included) must not hold up a SIGTERM: wait a
        # short grace in total, then leave it to die with the process (a daemon thread; a write
        # it still finishes is adopted by the next start like any stored slice).
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def request_sync(self) -> None:
        """Ask for a sync soon (e.g. after device health changed)."""
        self._dirty.set()

    def wait_for_sync(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until at least one sync has finished (successfully or not) since start; False on
        timeout or when ``stop`` is set first (polled every 0.1 s)."""
        deadline = time.monotonic() + timeout
        with self._synced:
            while self._sync_count == 0:
                left = deadline - time.monotonic()
                if left <= 0 or (stop is not None and stop.is_set()):
                    return False
                self._synced.wait(min(left, 0.1))
            return True

    def _sync_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._dirty.wait(timeout=self._resync)
            if self._stop.is_set():
                return
            self._stop.wait(self._debounce)
            self._dirty.clear()
            try:
                self.last_result = self._publisher.sync()
                self.last_error = None
                failures = 0
                self._supervisor.report(SYNC_LOOP, None)
            except Exception as exc:
                failures += 1
                expected = isinstance(exc, PublishError | KubeError)
                self.last_error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
                self._supervisor.report(SYNC_LOOP, self.last_error)
                delay = min(self._max_backoff, 0.1 * 2**failures) * random.uniform(0.5, 1.0)  # noqa: S311
                log.warning(
                    "slice sync failed (attempt %d), retrying in %.2fs: %s",
                    failures,
                    delay,
                    self.last_error,
                    exc_info=not expected,
                )
                self._stop.wait(delay)
                self._dirty.set()
            with self._synced:
                self._sync_count += 1
                self._synced.notify_all()

    def _watch_loop(self) -> None:
        known = self._publisher.known_resource_versions
        while not self._stop.is_set():
            try:
                for event in watch(
                    self._publisher.client.resource_slices,
                    field_selector=self._publisher.field_selector,
                    stop=self._stop,
                    on_list=self._listed,
                ):
                    meta = event.object.metadata
                    rv = meta.resource_version if meta is not None else None
                    if event.type != "DELETED" and rv is not None and rv in known:
                        continue  # the echo of our own write
                    log.debug("slice %s %s: re-sync", meta.name if meta else "?", event.type.lower())
                    self._dirty.set()
            except KubeError as exc:
                log.warning("slice watch failed, restarting: %s", exc)
                self._supervisor.report(WATCH_LOOP, str(exc))
                self._stop.wait(1.0)

    def _listed(self) -> None:
        """After every (re-)list: compare, whatever the list's difference said."""
        self._supervisor.report(WATCH_LOOP, None)
        self._dirty.set()
