"""AdmissionReview ``admission.k8s.io/v1``: reading a request and writing the response.

Owns: ``parse_review`` (bytes → ``AdmissionRequest``; anything that is not a well-formed v1
AdmissionReview raises ``MalformedReview``, which the server answers with HTTP 400),
``Verdict`` (what a handler decides) and ``review_response`` (the JSON the API server expects:
``response.uid`` echoed, ``allowed``, ``status`` on denial, ``patchType: JSONPatch`` with the
base64 patch only when the patch is not empty). It must never decide admission itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from dra_driver.rules import JsonInputError, load_json

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"


class MalformedReview(ValueError):
    """The body is not a usable AdmissionReview; the message says what is wrong."""


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of ``request`` the handlers use. ``group``/``version``/``kind`` are of the object."""

    uid: str
    group: str
    version: str
    kind: str
    operation: str
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool

    def describe(self) -> str:
        """``Kind namespace/name`` (a generateName shows as ``prefix*``), for messages."""
        meta = (self.object or self.old_object or {}).get("metadata") or {}
        name = (
            self.name or meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "")
        )
        where = f"{self.namespace}/{name}" if self.namespace else name
        return f"{self.kind} {where or '<unnamed>'}"


@dataclass(frozen=True)
class Verdict:
    """A handler's decision. ``code`` and ``message`` go into ``status`` when denied."""

    allowed: bool
    code: int = 200
    message: str = ""
    patch: list[dict[str, Any]] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


ALLOW: Final = Verdict(allowed=True)


def deny(message: str, code: int) -> Verdict:
    return Verdict(allowed=False, code=code, message=message)


def _field(obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind):
        raise MalformedReview(f"{where}.{name} is missing or not of the expected type")
    return value


def _object(request: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = request.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedReview(f"request.{name} must be a JSON object or null")
    return value


def parse_review(body: bytes) -> AdmissionRequest:
    """Parse an AdmissionReview v1 request body."""
    try:
        review = load_json(body)
    except JsonInputError as exc:
        raise MalformedReview(str(exc)) from None
    if not isinstance(review, dict):
        raise MalformedReview("the body is not a JSON object")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
        raise MalformedReview(
            f"expected apiVersion {API_VERSION} kind {KIND}, got apiVersion {review.get('apiVersion')!r} "
            f"kind {review.get('kind')!r}"
        )
    request = _field(review, "request", dict, "AdmissionReview")
    uid = _field(request, "uid", str, "request")
    if not uid:
        raise MalformedReview("request.uid is empty")
    kind = _field(request, "kind", dict, "request")
    options = request.get("dryRun")
    return AdmissionRequest(
        uid=uid,
        group=str(kind.get("group") or ""),
        version=str(_field(kind, "version", str, "request.kind")),
        kind=str(_field(kind, "kind", str, "request.kind")),
        operation=str(_field(request, "operation", str, "request")),
        namespace=str(request.get("namespace") or ""),
        name=str(request.get("name") or ""),
        object=_object(request, "object"),
        old_object=_object(request, "oldObject"),
        dry_run=options is True,
    )


def review_response(uid: str, verdict: Verdict) -> dict[str, Any]:
    """The AdmissionReview the API server expects back for request ``uid``."""
    response: dict[str, Any] = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        response["status"] = {"code": verdict.code, "message": verdict.message}
    if verdict.patch:
        encoded = json.dumps(verdict.patch, separators=(",", ":")).encode()
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(encoded).decode("ascii")
    if verdict.warnings:
        response["warnings"] = list(verdict.warnings)
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}
