"""An informer-like watch: list, then watch from the list's resourceVersion, forever until stopped.

Owns: the list+watch loop over one resource (optionally one namespace and selectors), its cache of
the last seen object per (namespace, name), and recovery: 410 Gone re-lists and yields the
difference against the cache; dropped connections and 5xx resume from the last resourceVersion
after a jittered backoff. It must never yield a BOOKMARK or an ERROR (callers see only ADDED,
MODIFIED, DELETED with typed objects), never compare resourceVersions other than for equality
(they are opaque), and never block a set ``stop`` for longer than a fraction of a second.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Literal

import urllib3

from .errors import TRANSLATABLE, Gone, HTTPStatusError, translate
from .kinds import T, object_meta
from .resources import Resource
from .retry import TRANSIENT
from .transport import lines

log = logging.getLogger("hdra.kube")

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Key = tuple[str, str]

# How often the helper thread looks at ``stop`` while a stream is blocked reading.
_STOP_POLL_S = 0.1
# Client-side read timeout beyond the server's own watch timeout: catches silently dead connections.
_READ_GRACE_S = 30.0


@dataclass(frozen=True)
class WatchEvent(Generic[T]):
    type: EventType
    object: T


def _key(obj: Any, kind: str) -> Key:
    meta = object_meta(obj, kind)
    return (meta.namespace or "", meta.name or "")


def _rv(obj: Any, kind: str) -> str | None:
    return object_meta(obj, kind).resource_version


def _relist_events(cache: dict[Key, T], items: tuple[T, ...], kind: str) -> Iterator[WatchEvent[T]]:
    """Bring ``cache`` to ``items``, yielding the changes: new ADDED, other RV MODIFIED, gone DELETED."""
    fresh = {_key(obj, kind): obj for obj in items}
    for key, obj in fresh.items():
        old = cache.get(key)
        cache[key] = obj
        if old is None:
            yield WatchEvent("ADDED", obj)
        elif _rv(old, kind) != _rv(obj, kind):
            yield WatchEvent("MODIFIED", obj)
    for key in [key for key in cache if key not in fresh]:
        # The object was deleted while we could not watch: its last known state is all we have.
        yield WatchEvent("DELETED", cache.pop(key))


@contextmanager
def _interrupt_when(stop: threading.Event, response: urllib3.BaseHTTPResponse) -> Iterator[None]:
    """Shut ``response``'s socket down as soon as ``stop`` is set, so a blocked read returns at once."""
    over = threading.Event()

    def run() -> None:
        if _wait_either(stop, over) and not over.is_set():
            # The reader may close the response at the same moment: then there is nothing to wake.
            with contextlib.suppress(OSError):
                response.shutdown()

    helper = threading.Thread(target=run, name="hdra-watch-stop", daemon=True)
    helper.start()
    try:
        yield
    finally:
        over.set()
        helper.join()


def _wait_either(stop: threading.Event, over: threading.Event) -> bool:
    """Wait until ``stop`` or ``over`` is set; True when ``stop`` was."""
    while not over.is_set():
        if stop.wait(_STOP_POLL_S):
            return True
    return False


def watch(
    resource: Resource[T],
    *,
    stop: threading.Event,
    namespace: str | None = None,
    field_selector: str | None = None,
    label_selector: str | None = None,
    timeout_seconds: int = 300,
    on_list: Callable[[], None] | None = None,
) -> Generator[WatchEvent[T], None, None]:
    """Yield ADDED for every listed object, then every change, until ``stop`` is set.

    ``on_list`` is called (in the consumer's thread) after every list, the first and each re-list
    after 410, once its difference against the cache was yielded. A list is the point where the
    watcher's view may jump: an object that was created *and* deleted before the first list, or
    while no watch was open, yields no event at all, so a caller that compares its own desired
    state against the server must do so after every list, not only on events.

    ``namespace`` applies to namespaced kinds (None = all namespaces). ``timeout_seconds`` is the
    server-side lifetime of one watch request; the loop simply re-watches when it ends. Errors the
    server will keep giving (400, 403, 404, ...) are raised; transient ones are retried forever,
    paced by the resource's retry policy.
    """
    kind = resource.spec.kind
    cache: dict[Key, T] = {}
    resource_version: str | None = None  # None: (re-)list before watching
    failures = 0
    while not stop.is_set():
        try:
            if resource_version is None:
                listed = resource.list_objects(namespace, field_selector, label_selector)
                yield from _relist_events(cache, listed.items, kind)
                resource_version = listed.resource_version
                failures = 0
                if on_list is not None:
                    on_list()
            for event_type, obj, new_rv in _stream(
                resource,
                namespace=namespace,
                field_selector=field_selector,
                label_selector=label_selector,
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                stop=stop,
            ):
                resource_version = new_rv or resource_version
                failures = 0
                if event_type == "BOOKMARK" or obj is None:
                    continue
                key = _key(obj, kind)
                if event_type == "DELETED":
                    cache.pop(key, None)
                    yield WatchEvent("DELETED", obj)
                elif event_type in ("ADDED", "MODIFIED"):
                    known = key in cache
                    cache[key] = obj
                    yield WatchEvent("MODIFIED" if known else "ADDED", obj)
                else:
                    log.warning("watch %s: ignoring event of unknown type %r", kind, event_type)
            # The server ended the request (its timeout) or stop was set: loop, re-watch from the RV.
        except Gone as exc:
            log.info("watch %s: %s; re-listing", kind, exc)
            resource_version = None
            failures += 1
            if failures > 1:
                # 410 again straight after a fresh list: pace the loop instead of spinning on it.
                stop.wait(resource.policy.reconnect_delay(failures))
        except TRANSIENT as exc:
            if stop.is_set():
                break
            failures += 1
            delay = resource.policy.reconnect_delay(failures)
            log.warning("watch %s failed (%d in a row), resuming in %.2fs: %s", kind, failures, delay, exc)
            stop.wait(delay)


def _stream(
    resource: Resource[T],
    *,
    namespace: str | None,
    field_selector: str | None,
    label_selector: str | None,
    resource_version: str,
    timeout_seconds: int,
    stop: threading.Event,
) -> Iterator[tuple[str, T | None, str | None]]:
    """One watch request: (type, object, resourceVersion) per event, hdra exceptions on failure.

    BOOKMARK events carry only metadata: they come through with no object (None), only their
    resourceVersion matters. An ERROR event (a
    Status, e.g. 410 Expired) ends the stream as the same error a plain request would raise.
    """
    spec = resource.spec
    query: dict[str, str | int | bool | None] = {
        "watch": True,
        "resourceVersion": resource_version,
        "allowWatchBookmarks": True,
        "timeoutSeconds": timeout_seconds,
        "fieldSelector": field_selector,
        "labelSelector": label_selector,
    }
    timeout = urllib3.Timeout(connect=resource.policy.request_timeout_s, read=timeout_seconds + _READ_GRACE_S)
    path = spec.collection_path(namespace if spec.namespaced else None)
    try:
        response = resource.transport.stream(path, query=query, timeout=timeout)
        try:
            with _interrupt_when(stop, response):
                for line in lines(response):
                    if stop.is_set():
                        return
                    yield _event(resource, namespace, line)
        finally:
            response.release_conn()
            response.close()
    except TRANSLATABLE as exc:
        if stop.is_set():
            return  # the helper closed the socket under the read: not an error
        raise translate(exc, "watch", spec.kind, None, namespace) from exc


def _event(resource: Resource[T], namespace: str | None, line: bytes) -> tuple[str, T | None, str | None]:
    kind = resource.spec.kind
    try:
        event = json.loads(line)
        event_type, raw = str(event["type"]), event["object"]
    except (ValueError, KeyError, TypeError):
        raise resource._bad_answer("watch", None, namespace, f"not a watch event: {line[:200]!r}") from None
    if event_type == "ERROR":
        code = raw.get("code") if isinstance(raw, dict) else None
        status = code if isinstance(code, int) else 500
        raise translate(
            HTTPStatusError(status, None, json.dumps(raw).encode(), {}), "watch", kind, None, namespace
        )
    meta = raw.get("metadata") if isinstance(raw, dict) else None
    new_rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if event_type == "BOOKMARK":
        return event_type, None, new_rv  # only a bookmark's resourceVersion is used
    return event_type, resource.decode("watch", None, namespace, raw), new_rv
