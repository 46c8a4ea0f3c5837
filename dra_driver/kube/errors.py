"""hdra's exceptions for API calls, translated from what the transport raises.

Owns: the exception hierarchy every caller of :mod:`dra_driver.kube` sees, :class:`HTTPStatusError`
(the transport's answer for a non-2xx response) and :func:`translate`, which maps an
``HTTPStatusError`` (HTTP status plus the ``Status`` object in the body) or a transport error
(urllib3, TLS, socket, http.client) onto the hierarchy. Every message names the verb, the kind, the object
(``namespace/name``), the HTTP code, the reason and the server's own message. This module must never
retry, sleep or talk to a server: it only classifies what already happened.
"""

# The class names mirror the Kubernetes Status reasons (NotFound, AlreadyExists, ...).

from __future__ import annotations

import http.client
import json
import math
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3.exceptions


class HTTPStatusError(Exception):
    """The server answered with a status outside 2xx; ``body`` is the raw answer (a Status, usually)."""

    def __init__(self, status: int, reason: str | None, body: bytes, headers: Mapping[str, str]) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = headers
        super().__init__(f"HTTP {status} {reason or ''}".strip())


# Everything a call through the transport can raise that is about the server or the network
# (as opposed to a programming error such as a pydantic ValidationError on a bad body).
TRANSLATABLE: tuple[type[BaseException], ...] = (
    HTTPStatusError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class KubeConfigError(Exception):
    """No usable cluster configuration (kubeconfig or in-cluster service account) was found."""


class KubeError(Exception):
    """A failed API call. ``code`` is the HTTP status, or None when no response arrived."""

    def __init__(
        self,
        *,
        verb: str,
        kind: str,
        name: str | None,
        namespace: str | None,
        code: int | None,
        reason: str | None,
        detail: str,
        retry_after: float | None = None,
    ) -> None:
        self.verb = verb
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.code = code
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self._render())

    @property
    def target(self) -> str:
        """``Kind "namespace/name"``, ``Kind "name"`` or just ``Kind`` for collection calls."""
        if self.name is None:
            return self.kind if self.namespace is None else f'{self.kind} in namespace "{self.namespace}"'
        path = self.name if self.namespace is None else f"{self.namespace}/{self.name}"
        return f'{self.kind} "{path}"'

    def _render(self) -> str:
        status = "no response" if self.code is None else f"HTTP {self.code}"
        if self.reason:
            status = f"{status} {self.reason}"
        return f"{self.verb} {self.target}: {status}: {self.detail}"


class BadRequest(KubeError):
    """400: the request itself is malformed (e.g. an unsupported field selector)."""


class Forbidden(KubeError):
    """401/403: credentials or RBAC do not allow the call."""


class NotFound(KubeError):
    """404: the object (or the resource type) does not exist."""


class AlreadyExists(KubeError):
    """409 with reason AlreadyExists: a create of a name that is taken."""


class Conflict(KubeError):
    """409 with reason Conflict: a stale resourceVersion (or failed precondition); re-read and retry."""


class Gone(KubeError):
    """410: the requested resourceVersion was compacted away; re-list."""


class Invalid(KubeError):
    """422: the server rejected the object's content."""


class TooManyRequests(KubeError):
    """429: throttled; ``retry_after`` holds the server's Retry-After in seconds when it sent one."""


class ServerError(KubeError):
    """5xx: the server (or a proxy in front of it) failed."""


class Unavailable(KubeError):
    """No HTTP response: connection refused or reset, DNS failure, or a timeout."""


def _parse_status_body(body: object) -> dict[str, Any]:
    """The Kubernetes ``Status`` object in an error body, or {} when the body is not one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _header(headers: object, name: str) -> str | None:
    """Case-insensitive header lookup over urllib3's HTTPHeaderDict or a plain mapping."""
    if headers is None or not hasattr(headers, "items"):
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date; None if absent or garbage."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _retry_after(exc: HTTPStatusError, status: dict[str, Any]) -> float | None:
    from_header = parse_retry_after(_header(exc.headers, "Retry-After"))
    if from_header is not None:
        return from_header
    details = status.get("details")
    if isinstance(details, dict) and isinstance(details.get("retryAfterSeconds"), int):
        return float(details["retryAfterSeconds"])
    return None


def _api_error_class(code: int, reason: str | None) -> type[KubeError]:
    if code == 409:
        return AlreadyExists if reason == "AlreadyExists" else Conflict
    by_code: dict[int, type[KubeError]] = {
        400: BadRequest,
        401: Forbidden,
        403: Forbidden,
        404: NotFound,
        410: Gone,
        422: Invalid,
        429: TooManyRequests,
    }
    if code in by_code:
        return by_code[code]
    if 500 <= code <= 599:
        return ServerError
    return KubeError


def translate(exc: BaseException, verb: str, kind: str, name: str | None, namespace: str | None) -> KubeError:
    """Map a transport exception onto hdra's hierarchy, keeping everything that names the cause.

    A TLS failure (an untrusted or mismatched certificate, a refused client certificate) stays a
    plain :class:`KubeError`: retrying it cannot help. Anything else in :data:`TRANSLATABLE` that
    is not an :class:`HTTPStatusError` means no HTTP response arrived, hence :class:`Unavailable`.
    """
    if isinstance(exc, HTTPStatusError):
        status = _parse_status_body(exc.body)
        code: int = status["code"] if isinstance(status.get("code"), int) else exc.status
        reason = status.get("reason") or exc.reason
        message = status.get("message") or "the response carried no Status message"
        cls = _api_error_class(code, str(reason) if reason else None)
        return cls(
            verb=verb,
            kind=kind,
            name=name,
            namespace=namespace,
            code=code,
            reason=str(reason) if reason else None,
            detail=str(message),
            retry_after=_retry_after(exc, status),
        )
    cause = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    if isinstance(cause, (urllib3.exceptions.SSLError, ssl.SSLError)):
        return KubeError(
            verb=verb,
            kind=kind,
            name=name,
            namespace=namespace,
            code=None,
            reason=None,
            detail=f"TLS failed: {cause}",
        )
    detail = f"connection failed: {type(cause).__name__}: {cause}"
    return Unavailable(
        verb=verb, kind=kind, name=name, namespace=namespace, code=None, reason=None, detail=detail
    )
