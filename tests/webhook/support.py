"""Helpers for the webhook tests: self-signed certificates, AdmissionReview bodies, pods, HTTPS calls.

Certificates come from the ``openssl`` command line (the venv has no ``cryptography``); tests that
need one skip when ``openssl`` is missing. Nothing here starts a server.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path
    serial: int


def make_cert(directory: Path, serial: int, name: str = "tls") -> CertPair:
    """A self-signed EC certificate for 127.0.0.1 (SAN IP) with ``serial``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed; it is needed to make a test certificate")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-set_serial", str(serial),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return CertPair(cert, key, serial)


def client_context(*trusted: CertPair) -> ssl.SSLContext:
    """A verifying TLS client context that trusts exactly ``trusted``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata="".join(pair.cert.read_text() for pair in trusted))
    return context


def connect(port: int, context: ssl.SSLContext) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)


def post(conn: http.client.HTTPSConnection, path: str, body: bytes) -> tuple[int, Any]:
    """POST ``body``; the status and the parsed JSON answer."""
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def review(
    obj: Mapping[str, Any] | None,
    *,
    kind: str = "Pod",
    group: str = "",
    version: str = "v1",
    namespace: str = "default",
    operation: str = "CREATE",
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview v1 request as the API server sends it."""
    meta = (obj or {}).get("metadata") or {}
    plural = kind.lower() + "s"
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": plural},
            "namespace": namespace,
            "name": meta.get("name", ""),
            "operation": operation,
            "userInfo": {"username": "tester"},
            "object": obj,
            "oldObject": None,
            "dryRun": dry_run,
        },
    }


def decoded_patch(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch of an AdmissionReview answer ([] when none)."""
    response = answer["response"]
    if "patch" not in response:
        return []
    assert response["patchType"] == "JSONPatch"
    patch: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return patch


def pod(
    limits: Mapping[str, Any] | None = None,
    *,
    name: str = "trainer",
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    requests: Mapping[str, Any] | None = None,
    container: str = "main",
) -> dict[str, Any]:
    """A pod with one container asking for ``limits`` (and ``requests``)."""
    resources: dict[str, Any] = {}
    if limits is not None:
        resources["limits"] = dict(limits)
    if requests is not None:
        resources["requests"] = dict(requests)
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": container, "image": "busybox", "resources": resources}]},
    }


def request_of(template: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """The ``index``-th request of a generated template."""
    request: dict[str, Any] = template["spec"]["spec"]["devices"]["requests"][index]
    return request
