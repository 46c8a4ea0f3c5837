"""``WebhookServer``: the HTTPS endpoint the API server calls (``/validate``, ``/mutate``, ``/healthz``).

Owns: the listener (stdlib ``ThreadingHTTPServer``, one thread per connection, HTTP/1.1
keep-alive, Nagle off), the TLS handshake of each accepted connection in its own thread with the
context ``ReloadingContext`` hands out at that moment (so a renewed certificate is served from the
next connection on), request framing (``Content-Length`` required, 8 MiB at most, JSON answers)
and a clean stop that also closes idle keep-alive connections. Malformed HTTP or AdmissionReview
input gets a 4xx with a message; decisions come from ``AdmissionHandler``. Timeouts on the
handshake and on idle connections keep a silent client from holding a thread for ever.
It must never decide admission itself.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from dra_driver.kube import KubeClient
from dra_driver.webhook.admission import AdmissionHandler
from dra_driver.webhook.state import WatchedState
from dra_driver.webhook.template_gc import DEFAULT_GRACE_S
from dra_driver.webhook.tls import ReloadingContext

HEALTHZ_PATH: Final = "/healthz"
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
HANDSHAKE_TIMEOUT_S: Final = 10.0
IDLE_TIMEOUT_S: Final = 60.0

log = logging.getLogger("hdra.webhook")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: dict[str, Any]) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

    def _fail(self, status: int, message: str) -> None:
        self.close_connection = True  # the rest of the stream cannot be trusted after a framing error
        self._send_json(status, {"message": message})

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == HEALTHZ_PATH:
            self._send(200, b"ok", "text/plain; charset=utf-8")
        else:
            self._send_json(
                404, {"message": f"no endpoint GET {self.path}; GET {HEALTHZ_PATH} is the only one"}
            )

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._fail(400, "chunked request bodies are not accepted; send Content-Length")
            return
        length_text = self.headers.get("Content-Length")
        try:
            length = int(length_text) if length_text is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self._fail(400, f"a POST needs a valid Content-Length header, got {length_text!r}")
            return
        if length > MAX_BODY_BYTES:
            self._fail(413, f"request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES} bytes")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self._fail(400, f"the body ended after {len(body)} of {length} bytes")
            return
        status, answer = self.server.admission.handle(path, body)
        self._send_json(status, answer)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], tls: ReloadingContext, admission: AdmissionHandler) -> None:
        self.tls = tls
        self.admission = admission
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's thread: TLS handshake with the current certificate, then HTTP."""
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            connection = self.tls.context().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        with self._open_lock:
            self._open.add(connection)
        try:
            _Handler(connection, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(connection)
            connection.close()

    def close_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class WebhookServer:
    """The admission webhook over HTTPS on ``host:port`` (port 0: any free port; see ``port``)."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        *,
        host: str = "0.0.0.0",
        port: int = 8443,
        kube: KubeClient | None = None,
        template_grace_s: float = DEFAULT_GRACE_S,
        watch: bool = True,
    ) -> None:
        self.cert = cert
        self.key = key
        self.host = host
        self.kube = kube
        self.template_grace_s = template_grace_s
        # The watches that answer most admissions without an API call (state.py); started with
        # the server, and the API is asked directly until their first lists are in.
        self.state = WatchedState(kube) if kube is not None and watch else None
        self._requested_port = port
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls: ReloadingContext | None = None

    @property
    def port(self) -> int:
        """The bound port; only meaningful after ``start``."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> WebhookServer:
        """Load the certificate (raising ``CertificateError`` if it does not load), bind and serve."""
        if self._server is not None:
            raise RuntimeError(f"webhook already serving at {self.url}")
        self.tls = ReloadingContext(self.cert, self.key)
        handler = AdmissionHandler(self.kube, self.state, self.template_grace_s)
        self._server = _HTTPServer((self.host, self._requested_port), self.tls, handler)
        if self.state is not None:
            self.state.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="webhook", daemon=True
        )
        self._thread.start()
        log.info("admission webhook serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close open connections and wait for the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        if self.state is not None:
            self.state.stop()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
