"""API errors of the dev cluster, rendered as Kubernetes ``Status`` objects.

Owns: the exception type every layer raises (``ApiError``) and the constructors that reproduce the
upstream apiserver's reason, code and message text (k8s.io/apimachinery ``pkg/api/errors``). It must
never know about HTTP connections: the handler turns an ``ApiError`` into a response body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One field error of an Invalid status (``details.causes[]``)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"
    prefixed: bool = True

    def render(self) -> str:
        """Upstream ``field.Error.Error()``: ``<field>: <detail>``, or the detail alone."""
        return f"{self.field}: {self.message}" if self.field and self.prefixed else self.message


@dataclass
class ApiError(Exception):
    """A failed API call: HTTP ``code``, Status ``reason`` (empty means Unknown) and ``message``."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    retry_after_s: int | None = None

    def __str__(self) -> str:
        return f"{self.code} {self.reason or 'Unknown'}: {self.message}"

    def status(self) -> dict[str, Any]:
        """The ``Status`` object the apiserver answers with."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        }
        if self.reason:
            body["reason"] = self.reason
        details = dict(self.details)
        if self.retry_after_s is not None:
            details["retryAfterSeconds"] = self.retry_after_s
        if details:
            body["details"] = details
        return body

    def body(self) -> bytes:
        return json.dumps(self.status(), separators=(",", ":")).encode()


def qualified(plural: str, group: str) -> str:
    """``resourceslices.resource.k8s.io`` for grouped resources, ``pods`` for core ones."""
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, group, plural)
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        _details(name, group, plural),
    )


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid: ``Kind.group "name" is invalid: <cause>`` or ``[<cause>, <cause>]``."""
    qualified_kind = f"{kind}.{group}" if group else kind
    rendered = [cause.render() for cause in causes]
    text = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details = _details(name, group, kind)
    details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field} for c in causes]
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {path})",
    )


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format ({content_type or 'no Content-Type'})"
        f" - accepted media types include: {', '.join(accepted)}",
    )


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def internal(message: str) -> ApiError:
    """A non-Status storage error upstream: code 500 with reason Unknown (left empty)."""
    return ApiError(500, "", message)


def path_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})", {})
