"""Translation of transport exceptions into hdra's (no server needed: pure mapping)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import urllib3.exceptions

from dra_driver.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    HTTPStatusError,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unavailable,
    parse_retry_after,
    translate,
)


def api_exception(
    code: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> HTTPStatusError:
    body = json.dumps({"kind": "Status", "code": code, "reason": reason, "message": message}).encode()
    return HTTPStatusError(code, "HTTP reason phrase", body, headers or {})


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (400, "BadRequest", BadRequest),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (418, "Teapot", KubeError),
    ],
)
def test_status_code_and_reason_pick_the_class(code: int, reason: str, expected: type[KubeError]) -> None:
    error = translate(api_exception(code, reason, "server says no"), "update", "ResourceClaim", "c1", "ns1")
    assert type(error) is expected
    assert error.code == code
    assert error.reason == reason


def test_message_names_verb_kind_object_code_reason_and_status_message() -> None:
    exc = api_exception(409, "Conflict", "the object has been modified; please apply your changes")
    error = translate(exc, "update", "ResourceClaim", "c1", "ns1")
    assert str(error) == (
        'update ResourceClaim "ns1/c1": HTTP 409 Conflict: '
        "the object has been modified; please apply your changes"
    )
    assert (error.verb, error.kind, error.name, error.namespace) == ("update", "ResourceClaim", "c1", "ns1")


def test_cluster_scoped_and_collection_targets_are_named() -> None:
    one = translate(api_exception(404, "NotFound", "not found"), "get", "ResourceSlice", "s1", None)
    assert 'get ResourceSlice "s1"' in str(one)
    collection = translate(api_exception(500, "InternalError", "boom"), "list", "ResourceClaim", None, "ns1")
    assert str(collection).startswith('list ResourceClaim in namespace "ns1": HTTP 500 InternalError: boom')


def test_body_without_status_falls_back_to_http_reason() -> None:
    exc = HTTPStatusError(410, "Expired: too old resource version: 3 (7)", b"", {})
    error = translate(exc, "watch", "ResourceSlice", None, None)
    assert isinstance(error, Gone)
    assert "too old resource version: 3 (7)" in str(error)


def test_retry_after_header_in_seconds_and_case_insensitive() -> None:
    error = translate(
        api_exception(429, "TooManyRequests", "slow down", {"retry-after": "2"}), "list", "Node", None, None
    )
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == 2.0


def test_retry_after_from_status_details_when_no_header() -> None:
    body = {
        "kind": "Status",
        "code": 429,
        "reason": "TooManyRequests",
        "message": "x",
        "details": {"retryAfterSeconds": 3},
    }
    exc = HTTPStatusError(429, "Too Many Requests", json.dumps(body).encode(), {})
    assert translate(exc, "list", "Node", None, None).retry_after == 3.0


def test_parse_retry_after_http_date_and_garbage() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None
    assert 25 <= seconds <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0


def test_transport_errors_become_unavailable_naming_the_cause() -> None:
    refused = urllib3.exceptions.MaxRetryError(
        pool=None,  # type: ignore[arg-type]
        url="/apis/resource.k8s.io/v1/resourceslices",
        reason=urllib3.exceptions.NewConnectionError(None, "Connection refused"),  # type: ignore[arg-type]
    )
    error = translate(refused, "list", "ResourceSlice", None, None)
    assert isinstance(error, Unavailable)
    assert error.code is None
    assert "NewConnectionError" in str(error)
    assert "Connection refused" in str(error)
    reset = translate(ConnectionResetError("peer reset"), "create", "Event", "e1", "default")
    assert isinstance(reset, Unavailable)
    assert (
        str(reset)
        == 'create Event "default/e1": no response: connection failed: ConnectionResetError: peer reset'
    )


def test_a_tls_failure_is_not_retryable() -> None:
    """An untrusted server certificate stays untrusted: a plain KubeError, not Unavailable."""
    error = translate(urllib3.exceptions.SSLError("certificate verify failed"), "get", "Node", "n1", None)
    assert type(error) is KubeError
    assert "TLS failed: certificate verify failed" in str(error)
