"""The slice controller loop: watch our own slices, re-sync on change, on a timer and on demand.

Owns: the threads around a ``SlicePublisher`` — one that watches this node's slices of this driver
and one that syncs. A watch event that is not the echo of our own write (someone deleted or edited
a slice, or the kubelet wiped them at its start) marks the state dirty; the sync thread then
repairs it after a short debounce. Every (re-)list of the watch also marks the state dirty: a
slice deleted before the watch's first list, or while no watch was open and before anything was
cached, produces no event, so only a comparison after the list can see it. Failed syncs are
retried with jittered backoff; a periodic resync is the safety net for anything the watch missed.

It must never build slices or decide generations itself: that is the publisher's job.
"""

from __future__ import annotations

import logging
import random
import threading

from dra_driver.controller.publisher import PublishError, SlicePublisher, SyncResult
from dra_driver.kube import KubeError, watch

log = logging.getLogger("hdra.controller")


class SliceController:
    """Runs a publisher until stopped. ``start()`` returns after the first sync attempt."""

    def __init__(
        self,
        publisher: SlicePublisher,
        *,
        resync_seconds: float = 30.0,
        debounce_seconds: float = 0.05,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._publisher = publisher
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

    def start(self) -> None:
        self._dirty.set()
        self._threads = [
            threading.Thread(target=self._sync_loop, name="hdra-slice-sync", daemon=True),
            threading.Thread(target=self._watch_loop, name="hdra-slice-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.wait_for_sync(timeout=30.0)

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        for thread in self._threads:
            thread.join(timeout=10.0)

    def request_sync(self) -> None:
        """Ask for a sync soon (e.g. after device health changed)."""
        self._dirty.set()

    def wait_for_sync(self, timeout: float) -> bool:
        """Block until at least one sync has finished (successfully or not) since start."""
        with self._synced:
            return self._synced.wait_for(lambda: self._sync_count > 0, timeout=timeout)

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
            except (PublishError, KubeError) as exc:
                failures += 1
                self.last_error = str(exc)
                delay = min(self._max_backoff, 0.1 * 2**failures) * random.uniform(0.5, 1.0)  # noqa: S311
                log.warning("slice sync failed (attempt %d), retrying in %.2fs: %s", failures, delay, exc)
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
                    on_list=self._dirty.set,  # after every (re-)list: compare, whatever the diff said
                ):
                    meta = event.object.metadata
                    rv = meta.resource_version if meta is not None else None
                    if event.type != "DELETED" and rv is not None and rv in known:
                        continue  # the echo of our own write
                    log.debug("slice %s %s: re-sync", meta.name if meta else "?", event.type.lower())
                    self._dirty.set()
            except KubeError as exc:
                log.warning("slice watch failed, restarting: %s", exc)
                self._stop.wait(1.0)
