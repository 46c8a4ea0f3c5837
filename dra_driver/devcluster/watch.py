"""Watch streams: option validation and the sequence of JSON event lines one watch produces.

Owns: upstream watch semantics — ``resourceVersion`` unset or "0" starts with synthetic ADDED
events, a concrete RV resumes after it (410 Expired as an in-stream ERROR event when it is below
the compaction horizon or the watcher falls behind), ``sendInitialEvents`` (which needs
``resourceVersionMatch=NotOlderThan``, else 422 like ``validateWatchOptions``) ending its initial
batch with a ``k8s.io/initial-events-end`` bookmark, periodic BOOKMARK events carrying only
kind/apiVersion/metadata.resourceVersion, ``timeoutSeconds``, and selector filtering the way the
watch cache does it (an object leaving the selection is a DELETED event). It must never write to
the socket; the handler frames and sends what ``lines()`` yields.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass

from dra_driver.devcluster import errors
from dra_driver.devcluster.errors import ApiError, Cause
from dra_driver.devcluster.registry import storage_key
from dra_driver.devcluster.resources import ResourceKind
from dra_driver.devcluster.selectors import Selection
from dra_driver.devcluster.store import ADDED, DELETED, MODIFIED, Cursor, Entry, Event, Store, encode

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "t")


@dataclass(frozen=True)
class WatchOptions:
    resource_version: str
    send_initial_events: bool | None
    allow_bookmarks: bool
    timeout_s: float
    selection: Selection


def parse_options(query: Mapping[str, str], selection: Selection, default_timeout_s: float) -> WatchOptions:
    """Validate watch query parameters like upstream ``validateWatchOptions`` (422 on misuse)."""
    match = query.get("resourceVersionMatch", "")
    raw_initial = query.get("sendInitialEvents")
    initial = None if raw_initial is None else _flag(raw_initial)
    causes: list[Cause] = []
    if initial is not None and match != "NotOlderThan":
        causes.append(
            Cause(
                "resourceVersionMatch",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                "FieldValueForbidden",
            )
        )
    if match:
        if initial is None:
            causes.append(
                Cause(
                    "resourceVersionMatch",
                    "Forbidden: resourceVersionMatch is forbidden for watch"
                    " unless sendInitialEvents is provided",
                    "FieldValueForbidden",
                )
            )
        if match != "NotOlderThan":
            causes.append(
                Cause(
                    "resourceVersionMatch",
                    f'Unsupported value: "{match}": supported values: "NotOlderThan"',
                    "FieldValueNotSupported",
                )
            )
    if causes:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)
    rv = query.get("resourceVersion", "")
    if rv not in ("", "0") and not rv.isdigit():
        raise errors.bad_request(f'invalid resourceVersion "{rv}": the dev cluster issues decimal integers')
    timeout = default_timeout_s
    if "timeoutSeconds" in query:
        try:
            timeout = float(int(query["timeoutSeconds"]))
        except ValueError:
            raise errors.bad_request(
                f'invalid timeoutSeconds "{query["timeoutSeconds"]}": not an integer'
            ) from None
    return WatchOptions(rv, initial, _flag(query.get("allowWatchBookmarks")), timeout, selection)


class WatchStream:
    """One watch: iterate ``lines()`` for newline-terminated JSON events."""

    def __init__(
        self,
        store: Store,
        resource: ResourceKind,
        namespace: str | None,
        options: WatchOptions,
        bookmark_interval_s: float,
    ) -> None:
        self._store = store
        self._resource = resource
        self._namespace = namespace
        self._options = options
        self._bookmark_interval_s = bookmark_interval_s

    def _visible(self, entry: Entry | None) -> bool:
        if entry is None:
            return False
        meta = entry.obj.get("metadata") or {}
        if self._namespace is not None and meta.get("namespace") != self._namespace:
            return False
        return self._options.selection.matches(entry.obj)

    def _line(self, event_type: str, raw: bytes) -> bytes:
        return b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n"

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, object] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self._resource.kind, "apiVersion": self._resource.api_version, "metadata": meta}
        return self._line("BOOKMARK", encode(obj))

    def _convert(self, event: Event) -> bytes | None:
        """The watch cache's rule: judge both the new and the previous object against the selection."""
        now_visible = event.type != DELETED and self._visible(event.entry)
        was_visible = self._visible(event.prev) if event.type != ADDED else False
        if event.type == DELETED:
            was_visible = self._visible(event.prev or event.entry)
        if now_visible and not was_visible:
            return self._line(ADDED, event.entry.raw)
        if now_visible:
            return self._line(MODIFIED, event.entry.raw)
        if not was_visible:
            return None
        if event.type == DELETED or event.prev is None:
            return self._line(DELETED, event.entry.raw)
        gone = json.loads(event.prev.raw)
        gone["metadata"]["resourceVersion"] = str(event.rv)
        return self._line(DELETED, encode(gone))

    def _start(self) -> tuple[list[bytes], Cursor]:
        key = storage_key(self._resource)
        opts = self._options
        initial: list[bytes] = []
        with self._store.lock:
            if opts.send_initial_events is False and opts.resource_version not in ("", "0"):
                return [], self._store.cursor(key, int(opts.resource_version))
            if opts.send_initial_events or (
                opts.send_initial_events is None and opts.resource_version in ("", "0")
            ):
                entries = self._store.entries(key, self._namespace)
                cursor = self._store.cursor(key, None)
                initial = [self._line(ADDED, e.raw) for e in entries if self._visible(e)]
                if opts.send_initial_events and opts.allow_bookmarks:
                    initial.append(self._bookmark(cursor.rv, initial_end=True))
                return initial, cursor
            if opts.send_initial_events is False:
                return [], self._store.cursor(key, None)
            return [], self._store.cursor(key, int(opts.resource_version))

    def lines(self) -> Generator[bytes, None, None]:
        deadline = time.monotonic() + self._options.timeout_s
        try:
            initial, cursor = self._start()
        except ApiError as exc:
            yield self._line("ERROR", exc.body())
            return
        yield from initial
        next_bookmark = time.monotonic() + self._bookmark_interval_s
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            wait = deadline - now
            if self._options.allow_bookmarks:
                wait = max(0.0, min(wait, next_bookmark - now))
            try:
                events = self._store.next_events(cursor, wait)
            except ApiError as exc:
                yield self._line("ERROR", exc.body())
                return
            if events is None:  # close_all_watches: end the stream cleanly, keep the connection
                return
            for event in events:
                line = self._convert(event)
                if line is not None:
                    yield line
            if self._options.allow_bookmarks and not events and time.monotonic() >= next_bookmark:
                yield self._bookmark(cursor.rv)
                next_bookmark = time.monotonic() + self._bookmark_interval_s
