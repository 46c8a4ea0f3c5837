"""HTTP front end of the dev cluster: routing, body decoding, Status errors and watch framing.

Owns: the URL layout of the Kubernetes API (discovery, ``/openapi/v3``, ``/api/v1/...``,
``/apis/<group>/<version>/...``, namespaced and cluster-wide collections, ``/status``), HTTP/1.1
keep-alive with Nagle disabled (without it every request costs ~40 ms of delayed-ACK stall), chunked
watch responses, fault injection before routing and request counting. It must never implement API
semantics itself: everything past decoding goes to ``registry`` and ``watch``.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from dra_driver.devcluster import errors, openapi, resources
from dra_driver.devcluster.errors import ApiError
from dra_driver.devcluster.selectors import parse_selection
from dra_driver.devcluster.store import Entry, encode
from dra_driver.devcluster.watch import WatchStream, parse_options

if TYPE_CHECKING:
    from dra_driver.devcluster.server import DevClusterHTTPServer

log = logging.getLogger("hdra.devcluster")
_BODY_TYPES = ("application/json", "application/yaml")


class Route:
    """A parsed resource URL."""

    def __init__(self, resource: resources.ResourceKind, namespace: str | None, name: str, sub: str) -> None:
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.sub = sub


def parse_route(path: str) -> Route | dict[str, Any] | None:
    """A resource route, a discovery document, or None (404)."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if parts == ["api"]:
        return resources.api_versions()
    if parts == ["apis"]:
        return resources.api_group_list()
    if parts == ["api", "v1"]:
        return resources.api_resource_list("", "v1")
    if len(parts) == 2 and parts[0] == "apis" and any(r.group == parts[1] for r in resources.RESOURCES):
        return resources.api_group(parts[1])
    if parts[:1] == ["api"] and len(parts) >= 3 and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            known = any((r.group, r.version) == (group, version) for r in resources.RESOURCES)
            return resources.api_resource_list(group, version) if known else None
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = resources.lookup(group, version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if resource.namespaced and name and namespace is None:
        return None
    if sub and (sub != "status" or not resource.status_subresource):
        return None
    return Route(resource, namespace, name, sub)


class ApiHandler(BaseHTTPRequestHandler):
    """One connection; ``server`` is the ``DevClusterHTTPServer`` carrying the cluster state."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one send; flushed after every request
    server: DevClusterHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (a plugin stopped, a watch was abandoned): nothing to flush to.
            log.debug(
                "client %s closed the connection before the response was flushed", self.address_string()
            )
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    # ---- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, exc: ApiError) -> None:
        extra = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
        self._send(exc.code, exc.body(), extra)

    def _serve(self, method: str) -> None:
        cluster = self.server.cluster
        cluster.stats.record(method)
        rule = cluster.faults.take(method, self.path)
        if rule is not None:
            if rule.delay_s > 0:
                time.sleep(rule.delay_s)
            if rule.drop_connection:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            fault = rule.error()
            if fault is not None:
                self._read_body()
                self._send_error(fault)
                return
        try:
            body = self._read_body()
            self._dispatch(method, body)
        except ApiError as exc:
            self._send_error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # an unexpected bug must still answer with a Status, not hang the client
            log.exception("dev cluster failed on %s %s", method, self.path)
            self._send_error(errors.internal(f"dev cluster bug handling {method} {self.path}: {exc!r}"))

    def _dispatch(self, method: str, body: bytes) -> None:
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        path = split.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok")
            return
        if path == "/version":
            self._send(200, encode(self.server.cluster.version_info()))
            return
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            self._openapi(method, path)
            return
        route = parse_route(path)
        if route is None:
            raise errors.path_not_found(path)
        if isinstance(route, dict):
            if method not in ("GET", "HEAD"):
                raise errors.method_not_allowed(method, path)
            self._send(200, encode(route))
            return
        if "dryRun" in query and (method != "POST" or query["dryRun"] != "All"):
            raise errors.bad_request("the hdra dev cluster models dryRun=All on create (POST) only")
        self._resource(method, route, query, body)

    def _openapi(self, method: str, path: str) -> None:
        if method not in ("GET", "HEAD"):
            raise errors.method_not_allowed(method, path)
        version = self.server.cluster.kube_version
        if path == "/openapi/v3":
            self._send(200, encode(openapi.root_document(version)))
            return
        found = openapi.find(path.removeprefix("/openapi/v3/"))
        if found is None:
            raise errors.path_not_found(path)
        self._send(200, openapi.encoded_group_version(version, *found))

    def _decode(self, body: bytes) -> Any:
        media = (self.headers.get("Content-Type") or "application/json").split(";", 1)[0].strip().lower()
        if media not in _BODY_TYPES:
            raise errors.unsupported_media_type(media, _BODY_TYPES)
        try:
            return json.loads(body) if media == "application/json" else yaml.safe_load(body)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body is not valid {media}: {exc}") from None

    def _resource(self, method: str, route: Route, query: dict[str, str], body: bytes) -> None:
        registry = self.server.cluster.registry
        res, ns, name = route.resource, route.namespace or "", route.name
        if method in ("GET", "HEAD") and name:
            self._send(200, registry.get(res, ns, name).raw)
        elif method in ("GET", "HEAD"):
            selection = parse_selection(query.get("fieldSelector", ""), query.get("labelSelector", ""), res)
            if query.get("watch", "").lower() in ("true", "1"):
                self._watch(route, query, selection)
            else:
                rv, entries = registry.list_objects(res, route.namespace, selection)
                self._send(200, self._list_body(res, rv, entries))
        elif method == "POST" and not name:
            if res.namespaced and route.namespace is None:
                raise errors.method_not_allowed(method, self.path)
            dry_run = query.get("dryRun") == "All"
            self._send(201, registry.create(res, ns, self._decode(body), dry_run=dry_run).raw)
        elif method == "PUT" and name:
            self._send(
                200, registry.update(res, ns, name, self._decode(body), status=route.sub == "status").raw
            )
        elif method == "PATCH" and name:
            content_type = self.headers.get("Content-Type") or ""
            self._send(
                200, registry.patch(res, ns, name, content_type, body, status=route.sub == "status").raw
            )
        elif method == "DELETE" and name and not route.sub:
            options = self._decode(body) if body.strip() else {}
            pre = options.get("preconditions") if isinstance(options, dict) else None
            self._send(200, registry.delete(res, ns, name, pre if isinstance(pre, dict) else None).raw)
        elif method == "DELETE" and not name:
            selection = parse_selection(query.get("fieldSelector", ""), query.get("labelSelector", ""), res)
            rv, entries = registry.delete_collection(res, route.namespace, selection)
            self._send(200, self._list_body(res, rv, entries))
        else:
            raise errors.method_not_allowed(method, self.path)

    @staticmethod
    def _list_body(res: resources.ResourceKind, rv: int, entries: list[Entry]) -> bytes:
        head = f'{{"kind":"{res.list_kind}","apiVersion":"{res.api_version}",'
        meta = f'"metadata":{{"resourceVersion":"{rv}"}},"items":['
        return (head + meta).encode() + b",".join(e.raw for e in entries) + b"]}"

    def _watch(self, route: Route, query: dict[str, str], selection: Any) -> None:
        cluster = self.server.cluster
        options = parse_options(query, selection, cluster.watch_timeout_s)
        stream = WatchStream(
            cluster.store, route.resource, route.namespace, options, cluster.bookmark_interval_s
        )
        cluster.stats.record_watch()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        lines = stream.lines()
        try:
            for line in lines:
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away
            self.close_connection = True
        except Exception:  # headers are out: a bug can only end the stream, never answer a Status
            log.exception("dev cluster watch failed on %s", self.path)
            self.close_connection = True
        finally:
            lines.close()
