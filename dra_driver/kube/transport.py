"""The HTTP transport: JSON requests to one API server over a reused urllib3 connection pool.

Owns: building URLs under the server's address (and path prefix), the connection pool (TLS
context, TLS server name, an http(s) proxy), the headers of every request (credentials, Accept,
Content-Type, User-Agent), and turning a non-2xx answer into :class:`~.errors.HTTPStatusError`
after telling the credentials about a 401. It must never retry (that is :mod:`.retry`'s job,
urllib3's own retries and redirects are off), never parse a body into models (that is
:mod:`.resources`'), and never log credentials.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import InsecureRequestWarning

from .config import ClusterConfig
from .errors import HTTPStatusError

USER_AGENT = "hdra/0.1 (python; lean client)"
# Connections kept per pool: the node plugin's gRPC workers, its watches and the publisher.
POOL_SIZE = 16

Query = Mapping[str, str | int | bool | None]


def _query_string(query: Query | None) -> str:
    if not query:
        return ""
    pairs = [
        (k, ("true" if v else "false") if isinstance(v, bool) else str(v))
        for k, v in query.items()
        if v is not None
    ]
    return "?" + urlencode(pairs) if pairs else ""


class Transport:
    """Requests to ``config.server``; thread-safe (urllib3 pools are), closed by :meth:`close`."""

    def __init__(self, config: ClusterConfig, pool_size: int = POOL_SIZE) -> None:
        self.config = config
        parts = urlsplit(config.server)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        pool_kw: dict[str, Any] = {"maxsize": pool_size, "block": False, "retries": False}
        if parts.scheme == "https":
            pool_kw["ssl_context"] = config.ssl_context
            if config.tls_server_name:
                pool_kw["server_hostname"] = config.tls_server_name
                pool_kw["assert_hostname"] = config.tls_server_name
            if config.insecure:
                pool_kw["cert_reqs"] = "CERT_NONE"
                pool_kw["assert_hostname"] = False
                # The user asked for it in the kubeconfig; a warning per request would flood the log.
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(config.proxy_url, **pool_kw)
            if config.proxy_url
            else urllib3.PoolManager(**pool_kw)
        )

    def url(self, path: str, query: Query | None = None) -> str:
        return f"{self._origin}{self._prefix}{path}{_query_string(query)}"

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(self.config.credentials.headers())
        return headers

    def _fail(self, response: urllib3.BaseHTTPResponse, data: bytes) -> HTTPStatusError:
        if response.status == 401:
            self.config.credentials.invalidate()
        return HTTPStatusError(response.status, response.reason, data, dict(response.headers))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        timeout: float | urllib3.Timeout | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        """One request; the 2xx answer's body, else HTTPStatusError (urllib3/OS errors pass through).

        ``body`` is sent as JSON with ``content_type`` (a patch names its patch type there).
        """
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        response = self._pool.request(
            method,
            self.url(path, query),
            body=data,
            headers=self._headers(content_type if data is not None else None),
            timeout=_timeout(timeout),
            redirect=False,
        )
        if not 200 <= response.status <= 299:
            raise self._fail(response, response.data)
        return response.data

    def stream(
        self, path: str, *, query: Query | None = None, timeout: float | urllib3.Timeout | None = None
    ) -> urllib3.BaseHTTPResponse:
        """A GET whose body is read as it arrives (watch); the caller closes the response."""
        response = self._pool.request(
            "GET",
            self.url(path, query),
            headers=self._headers(None),
            timeout=_timeout(timeout),
            redirect=False,
            preload_content=False,
        )
        if not 200 <= response.status <= 299:
            try:
                data = response.read()
            finally:
                response.release_conn()
            raise self._fail(response, data)
        return response

    def close(self) -> None:
        self._pool.clear()


def _timeout(timeout: float | urllib3.Timeout | None) -> urllib3.Timeout | None:
    if timeout is None or isinstance(timeout, urllib3.Timeout):
        return timeout
    return urllib3.Timeout(total=timeout)


def lines(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The newline-separated records of a streamed body, each as soon as its last byte arrived.

    A watch answer is chunked with one event per chunk; urllib3's ``read_chunked`` hands every
    chunk over as it arrives (``read(amt)`` would wait for ``amt`` bytes).
    """
    chunks = (
        response.read_chunked(decode_content=True)
        if getattr(response, "chunked", False)
        else response.stream(decode_content=True)
    )
    pending = b""
    for chunk in chunks:
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending
