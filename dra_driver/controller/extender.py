"""The scheduler extender's HTTP server: ``POST /prioritize`` and ``GET /healthz``.

Owns: ``ExtenderServer`` (a stdlib ``ThreadingHTTPServer``, Nagle off, HTTP/1.1 keep-alive as the
scheduler's Go client uses it). The node usage it scores from comes from a callable, in ``hdra
controller`` ``ClusterUsage.__call__`` (``controller/cluster_usage.py``: one watch on claims, one on
slices), so a request never lists the cluster. Answers:

* ``POST /prioritize`` — 200 with a HostPriorityList (``node_scores.py`` has the wire format and the
  scores); 400 with a message for a body that is not an ExtenderArgs (also not UTF-8, not JSON, or
  nested deeper than ``rules.MAX_JSON_DEPTH``); 411 without Content-Length;
  413 for a body over ``MAX_BODY``; 503 when the usage callable fails (``KubeError`` or
  ``ValueError``: the scheduler then fails the pod's cycle unless the extender is configured
  ``ignorable: true``);
* ``GET /healthz`` — 200 ``ok``;
* ``GET /card-usage?node=N&driver=D`` — ``{"cards": {uuid: score}}``, the use score of each card
  that ``D`` publishes on ``N`` (``slices.usage``), from which the node plugin orders its cards
  (``controller/remote_order.py``); 404 when the server was started without ``card_scores``, 400
  without both parameters;
* ``GET /metrics`` — the Prometheus text format of the registry given (``controller/metrics.py``),
  404 when the server was started without one; any other path 404, any other method 405.

It must never write to the API, nor read it: usage comes from the callable.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dra_driver.controller.node_scores import (
    NODE_POLICIES,
    ExtenderArgsError,
    NodePolicy,
    parse_extender_args,
    prioritize,
)
from dra_driver.kube import KubeError
from dra_driver.slices.usage import NodeUsage

log = logging.getLogger("hdra.controller")

MAX_BODY = 16 * 1024 * 1024
"""With ``nodeCacheCapable: true`` (the chart's setting) a request is one Pod (at most etcd's 1.5 MiB)
and the node names; without it, a NodeList of full Node objects. 16 MiB holds either for thousands
of nodes; a larger body is refused before it is read (413), so it cannot exhaust the memory."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _ExtenderHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("extender %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/card-usage" and self.server.card_scores is not None:
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            node, driver = query.get("node", [""])[0], query.get("driver", [""])[0]
            if not node or not driver:
                self._error(400, "card-usage needs ?node=<node>&driver=<driver>")
                return
            body = json.dumps({"cards": self.server.card_scores(node, driver)}).encode()
            self._send(200, body, "application/json")
        elif self.path.split("?", 1)[0] == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif self.path.split("?", 1)[0] == "/metrics" and self.server.metrics is not None:
            self._send(200, generate_latest(self.server.metrics), CONTENT_TYPE_LATEST)
        elif self.path.split("?", 1)[0] == "/prioritize":
            self._error(405, "prioritize takes POST", {"Allow": "POST"})
        else:
            self._error(404, f"no such path {self.path!r}; serving POST /prioritize and GET /healthz")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._error(405, "healthz takes GET", {"Allow": "GET"})
            return
        if path != "/prioritize":
            self._error(404, f"no such path {self.path!r}; serving POST /prioritize and GET /healthz")
            return
        body = self._body()
        if body is None:
            return
        try:
            args = parse_extender_args(body)
        except ExtenderArgsError as exc:
            self._error(400, str(exc))
            return
        try:
            nodes = self.server.usage()
        except (KubeError, ValueError) as exc:
            log.warning("prioritize: cannot compute node usage: %s", exc)
            self._error(503, f"cannot compute node usage from the API server: {exc}")
            return
        answer = prioritize(args, nodes, self.server.policy)
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._error(411, "POST /prioritize needs a Content-Length header")
            return None
        try:
            length = int(length_header)
        except ValueError:
            self._error(400, f"Content-Length {length_header!r} is not a number")
            return None
        if length < 0 or length > MAX_BODY:
            self._error(413, f"Content-Length {length} is outside 0..{MAX_BODY}")
            return None
        return self.rfile.read(length)

    def _error(self, code: int, message: str, extra: Mapping[str, str] | None = None) -> None:
        # A refused request may leave an unread body behind: never reuse such a connection.
        self.close_connection = True
        self._send(
            code,
            f"{message}\n".encode(),
            "text/plain; charset=utf-8",
            {**(extra or {}), "Connection": "close"},
        )

    def _send(
        self, code: int, body: bytes, content_type: str, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class _ExtenderHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        usage: Callable[[], Mapping[str, NodeUsage]],
        policy: NodePolicy,
        metrics: CollectorRegistry | None,
        card_scores: Callable[[str, str], Mapping[str, float]] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.usage = usage
        self.policy = policy
        self.metrics = metrics
        self.card_scores = card_scores


class ExtenderServer:
    """Serves the extender on ``host:port`` (port 0: any free port; see ``port``) until stopped."""

    def __init__(
        self,
        usage: Callable[[], Mapping[str, NodeUsage]],
        *,
        policy: NodePolicy,
        host: str = "127.0.0.1",
        port: int = 0,
        metrics: CollectorRegistry | None = None,
        card_scores: Callable[[str, str], Mapping[str, float]] | None = None,
    ) -> None:
        if policy not in NODE_POLICIES:
            raise ValueError(f"unknown node policy {policy!r}; choose one of {', '.join(NODE_POLICIES)}")
        self._usage = usage
        self._policy = policy
        self._address = (host, port)
        self._metrics = metrics
        self._card_scores = card_scores
        self._server: _ExtenderHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the extender server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._address[0] or "0.0.0.0"
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; OSError when the address cannot be bound."""
        self._server = _ExtenderHTTPServer(
            self._address, self._usage, self._policy, self._metrics, self._card_scores
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="hdra-extender",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._server = None
