"""The informer-like watch loop against the dev cluster: events, bookmarks, 410 re-list, restarts, stop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.kube import BadRequest, KubeClient, WatchEvent, watch
from dra_driver.kube.models import ResourceSlice
from tests.kube.objects import meta, name_of, resource_claim, resource_slice

Event = WatchEvent[ResourceSlice]


def summary(event: WatchEvent[Any]) -> tuple[str, str]:
    return (event.type, name_of(event.object))


class Collector:
    """Runs a watch in a thread and hands its events to the test."""

    def __init__(self, events: Iterator[Event], stop: threading.Event) -> None:
        self.stop = stop
        self.events: queue.Queue[Event] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(events,), daemon=True)
        self.thread.start()

    def _run(self, events: Iterator[Event]) -> None:
        try:
            for event in events:
                self.events.put(event)
        except BaseException as exc:
            self.error = exc

    def take(self, count: int, timeout: float = 5.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        taken: list[Event] = []
        while len(taken) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(
                    f"expected {count} watch events, got {[summary(e) for e in taken]} ({self.error})"
                )
            try:
                taken.append(self.events.get(timeout=remaining))
            except queue.Empty:
                continue
        return taken

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def start_watch(client: KubeClient) -> Iterator[Callable[..., Collector]]:
    started: list[Collector] = []

    def start(**kwargs: object) -> Collector:
        stop = threading.Event()
        collector = Collector(watch(client.resource_slices, stop=stop, **kwargs), stop)  # type: ignore[arg-type]
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.close()


def test_list_then_added_modified_deleted_without_bookmarks(
    client: KubeClient, start_watch: Callable[..., Collector]
) -> None:
    client.resource_slices.create(resource_slice("s-old", "node-a"))
    watcher = start_watch(timeout_seconds=2)
    assert [summary(e) for e in watcher.take(1)] == [("ADDED", "s-old")]

    client.resource_slices.create(resource_slice("s-new", "node-a"))
    current = client.resource_slices.get("s-new")
    meta(current).labels = {"changed": "yes"}
    client.resource_slices.update(current)
    client.resource_slices.delete("s-old")
    events = watcher.take(3)
    assert [summary(e) for e in events] == [("ADDED", "s-new"), ("MODIFIED", "s-new"), ("DELETED", "s-old")]
    assert all(isinstance(e.object, ResourceSlice) for e in events)
    assert meta(events[1].object).labels == {"changed": "yes"}

    # Let the server end a watch (timeout 2 s, with bookmarks requested) and check nothing leaked out.
    time.sleep(2.5)
    client.resource_slices.create(resource_slice("s-late", "node-a"))
    assert [summary(e) for e in watcher.take(1)] == [("ADDED", "s-late")]
    assert watcher.events.empty()
    assert watcher.error is None


def test_selectors_filter_the_watch(client: KubeClient, start_watch: Callable[..., Collector]) -> None:
    watcher = start_watch(field_selector="spec.nodeName=node-b")
    client.resource_slices.create(resource_slice("on-a", "node-a"))
    client.resource_slices.create(resource_slice("on-b", "node-b"))
    assert [summary(e) for e in watcher.take(1)] == [("ADDED", "on-b")]
    time.sleep(0.2)
    assert watcher.events.empty()


def test_compaction_relists_and_reports_what_was_missed(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hdra.kube")
    client.resource_slices.create(resource_slice("keep", "node-a"))
    client.resource_slices.create(resource_slice("doomed", "node-a"))
    stop = threading.Event()
    events = watch(client.resource_slices, stop=stop, timeout_seconds=5)
    try:
        # The generator is suspended after the initial list, before it opens the watch.
        assert sorted(summary(next(events)) for _ in range(2)) == [("ADDED", "doomed"), ("ADDED", "keep")]
        client.resource_slices.delete("doomed")
        client.resource_slices.create(resource_slice("born", "node-a"))
        kept = client.resource_slices.get("keep")
        meta(kept).labels = {"touched": "1"}
        client.resource_slices.update(kept)
        cluster.store.compact()
        # Watching from the listed RV now gets 410: the loop re-lists and yields the difference.
        missed = sorted(summary(next(events)) for _ in range(3))
        assert missed == [("ADDED", "born"), ("DELETED", "doomed"), ("MODIFIED", "keep")]
        assert any("410" in r.getMessage() and "re-listing" in r.getMessage() for r in caplog.records)
        client.resource_slices.create(resource_slice("after", "node-a"))
        assert summary(next(events)) == ("ADDED", "after")
    finally:
        stop.set()
        events.close()


def test_compaction_while_the_stream_is_open(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hdra.kube")
    client.resource_slices.create(resource_slice("doomed", "node-a"))
    stop = threading.Event()
    events = watch(client.resource_slices, stop=stop, timeout_seconds=5)
    try:
        assert summary(next(events)) == ("ADDED", "doomed")
        client.resource_slices.create(resource_slice("first", "node-a"))
        assert summary(next(events)) == ("ADDED", "first")  # from the open stream
        # Drop the stream, then change things and compact before the loop can re-watch.
        cluster.store.close_all_watches()
        client.resource_slices.delete("doomed")
        cluster.store.compact()
        assert summary(next(events)) == ("DELETED", "doomed")
        assert any("re-listing" in r.getMessage() for r in caplog.records)
        client.resource_slices.create(resource_slice("second", "node-a"))
        assert summary(next(events)) == ("ADDED", "second")
    finally:
        stop.set()
        events.close()


def test_watch_survives_api_server_restarts(
    cluster: DevCluster, client: KubeClient, start_watch: Callable[..., Collector]
) -> None:
    watcher = start_watch(timeout_seconds=30)
    client.resource_slices.create(resource_slice("before", "node-a"))
    assert [summary(e) for e in watcher.take(1)] == [("ADDED", "before")]
    for round_ in range(3):
        cluster.store.close_all_watches()
        client.resource_slices.create(resource_slice(f"after-{round_}", "node-a"))
        assert [summary(e) for e in watcher.take(1)] == [("ADDED", f"after-{round_}")]
    assert watcher.error is None


def test_namespaced_watch_across_namespaces(client: KubeClient) -> None:
    stop = threading.Event()
    events = watch(client.resource_claims, stop=stop, timeout_seconds=5)
    try:
        client.resource_claims.create("default", resource_claim("default", "c1"))
        client.resource_claims.create("kube-system", resource_claim("kube-system", "c2"))
        collector_events = [summary(next(events)) for _ in range(2)]
        assert sorted(collector_events) == [("ADDED", "c1"), ("ADDED", "c2")]
    finally:
        stop.set()
        events.close()


def test_stop_ends_the_iterator_promptly(client: KubeClient, start_watch: Callable[..., Collector]) -> None:
    # A long server timeout: only the stop event can end this watch quickly.
    watcher = start_watch(timeout_seconds=300)
    client.resource_slices.create(resource_slice("s1", "node-a"))
    watcher.take(1)
    started = time.monotonic()
    watcher.stop.set()
    watcher.thread.join(timeout=5)
    assert not watcher.thread.is_alive()
    assert time.monotonic() - started < 2.0
    assert watcher.error is None


def test_watch_raises_errors_that_retrying_cannot_fix(client: KubeClient) -> None:
    stop = threading.Event()
    with pytest.raises(BadRequest, match=r"spec\.pool\.name"):
        next(watch(client.resource_slices, stop=stop, field_selector="spec.pool.name=x"))
