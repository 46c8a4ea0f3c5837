"""testing.md §2.3 items 10-11: watch semantics and 410 Expired, via kubernetes.watch.Watch and raw HTTP."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.resources import BY_KIND
from tests.support.devcluster_fixtures import ClientApi, new_watch, raw, raw_watch, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def _collect(api: ClientApi, **kwargs: Any) -> tuple[list[tuple[str, Any]], Any]:
    stream = new_watch()
    events = [(e["type"], e["object"]) for e in stream.stream(api.list_resource_slice, **kwargs)]
    return events, stream


def test_watch_resumes_from_rv_with_modified_deleted_and_bookmarks(
    resource_api: ClientApi,
) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    created.spec.pool.generation = 2
    modified = resource_api.replace_resource_slice("s", created)
    deleted = resource_api.delete_resource_slice("s")
    events, stream = _collect(
        resource_api,
        resource_version=created.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    )
    changes = [
        (kind, obj.metadata.name, obj.metadata.resource_version) for kind, obj in events if kind != "BOOKMARK"
    ]
    assert changes == [
        ("MODIFIED", "s", modified.metadata.resource_version),
        ("DELETED", "s", deleted.metadata.resource_version),
    ]
    bookmarks = [obj for kind, obj in events if kind == "BOOKMARK"]
    assert bookmarks, "an idle watch with allowWatchBookmarks gets periodic bookmarks"
    assert set(bookmarks[0]) == {"kind", "apiVersion", "metadata"}
    assert set(bookmarks[0]["metadata"]) == {"resourceVersion"}
    assert int(stream.resource_version) >= int(deleted.metadata.resource_version)


def test_watch_without_rv_starts_with_synthetic_added(resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("s-a"))
    resource_api.create_resource_slice(slice_body("s-b", node="node-b"))
    for rv in (None, "0"):
        kwargs: dict[str, Any] = {"timeout_seconds": 1, "field_selector": "spec.nodeName=node-a"}
        if rv is not None:
            kwargs["resource_version"] = rv
        events, _ = _collect(resource_api, **kwargs)
        assert [(kind, obj.metadata.name) for kind, obj in events] == [("ADDED", "s-a")]


def test_send_initial_events_ends_with_annotated_bookmark(resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("s-a"))
    resource_api.create_resource_slice(slice_body("s-b"))
    events, _ = _collect(
        resource_api,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    )
    assert [(k, o.metadata.name) for k, o in events[:2]] == [("ADDED", "s-a"), ("ADDED", "s-b")]
    kind, end = events[2]
    assert kind == "BOOKMARK"
    assert end["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_send_initial_events_requires_not_older_than(resource_api: ClientApi) -> None:
    with pytest.raises(ApiException) as info:
        _collect(resource_api, send_initial_events=True, allow_watch_bookmarks=True, timeout_seconds=1)
    assert info.value.status == 422
    assert "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" in str(info.value.body)


def test_watch_below_compaction_horizon_is_410_in_stream(
    devcluster: DevCluster, resource_api: ClientApi
) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    resource_api.delete_resource_slice("s")
    horizon = devcluster.store.compact()
    old = created.metadata.resource_version
    status, lines = raw_watch(devcluster.url, f"{SLICES}?watch=true&resourceVersion={old}&timeoutSeconds=1")
    assert status == 200
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    error = lines[0]["object"]
    assert (error["kind"], error["code"], error["reason"]) == ("Status", 410, "Expired")
    assert error["message"] == f"too old resource version: {old} ({horizon})"
    for kwargs in ({"timeout_seconds": 1}, {}):  # with a timeout and in the client's retrying mode
        with pytest.raises(ApiException) as info:
            _collect(resource_api, resource_version=old, **kwargs)
        assert info.value.status == 410


def _watch_in_thread(api: ClientApi, **kwargs: Any) -> tuple[queue.Queue[Any], threading.Thread]:
    out: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            for event in new_watch().stream(api.list_resource_slice, **kwargs):
                out.put(event["type"])
        except ApiException as exc:
            out.put(exc)
        out.put("END")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return out, thread


def test_watcher_that_falls_behind_a_compaction_gets_410(
    devcluster: DevCluster, resource_api: ClientApi
) -> None:
    start = str(devcluster.store.current_rv)
    events, thread = _watch_in_thread(resource_api, resource_version=start, timeout_seconds=10)
    first = resource_api.create_resource_slice(slice_body("s-1"))
    assert events.get(timeout=5) == "ADDED"  # the watcher is live and caught up
    slices = BY_KIND["ResourceSlice"]
    with devcluster.store.hold():  # the watcher cannot run while we write and compact
        devcluster.registry.create(slices, "", slice_body("s-2"))
        horizon = devcluster.store.compact()
    error = events.get(timeout=5)
    assert isinstance(error, ApiException)
    assert error.status == 410
    assert error.reason == f"Expired: too old resource version: {first.metadata.resource_version} ({horizon})"
    thread.join(timeout=5)


def test_close_all_watches_ends_open_streams(devcluster: DevCluster, resource_api: ClientApi) -> None:
    events, thread = _watch_in_thread(resource_api, timeout_seconds=30)
    resource_api.create_resource_slice(slice_body("s-1"))
    assert events.get(timeout=5) == "ADDED"
    devcluster.store.close_all_watches()
    assert events.get(timeout=5) == "END"
    thread.join(timeout=5)
    assert not thread.is_alive()
    resource_api.create_resource_slice(slice_body("s-2"))  # new requests and watches still work
    status, lines = raw_watch(devcluster.url, f"{SLICES}?watch=true&timeoutSeconds=1")
    assert status == 200 and [line["object"]["metadata"]["name"] for line in lines] == ["s-1", "s-2"]


def test_selector_filtering_turns_transitions_into_added_and_deleted(
    devcluster: DevCluster, resource_api: ClientApi
) -> None:
    start = str(devcluster.store.current_rv)
    body = slice_body("s")
    body["metadata"]["labels"] = {"tier": "a"}
    current = resource_api.create_resource_slice(body)
    resource_api.create_resource_slice(slice_body("other"))
    for tier in ("b", "a"):
        current.metadata.labels = {"tier": tier}
        current = resource_api.replace_resource_slice("s", current)
    resource_api.delete_resource_slice("s")
    query = f"{SLICES}?watch=1&resourceVersion={start}&labelSelector=tier%3Da&timeoutSeconds=1"
    status, lines = raw_watch(devcluster.url, query)
    assert status == 200
    seen = [(line["type"], line["object"]["metadata"]["labels"]["tier"]) for line in lines]
    assert seen == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a"), ("DELETED", "a")]
    rvs = [int(line["object"]["metadata"]["resourceVersion"]) for line in lines]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4  # the transition DELETED carries the event's RV


def test_watch_response_is_chunked_json_lines(devcluster: DevCluster, resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("s"))
    response = raw(devcluster.url, "GET", f"{SLICES}?watch=true&timeoutSeconds=1")
    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body.endswith(b"}\n")
    assert devcluster.stats.watches == 1
