"""Helpers for tests that talk to a dev cluster: object bodies and raw HTTP without the client.

The official client validates bodies client-side (pydantic ``extra_forbidden``) and hides status
codes behind exceptions, so contract tests that must see what the *server* does use ``raw`` and
``raw_watch`` here. Nothing in this module starts servers; fixtures do.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kubernetes import watch

DRIVER = "gpu.example.com"

# The official client's pydantic models make every field Optional and its methods expect models,
# while contract tests send plain dicts on purpose and read fields the server guarantees; tests
# therefore hold ResourceV1Api / CoreV1Api objects under this alias.
ClientApi = Any


def slice_body(
    name: str | None = "node-a-slice",
    node: str = "node-a",
    devices: int = 8,
    driver: str = DRIVER,
    generate_name: str | None = None,
) -> dict[str, Any]:
    """A valid resource.k8s.io/v1 ResourceSlice with ``devices`` GPUs on ``node``."""
    meta: dict[str, Any] = {"name": name} if name else {"generateName": generate_name or f"{node}-{driver}-"}
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": meta,
        "spec": {
            "driver": driver,
            "nodeName": node,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": [
                {
                    "name": f"gpu-{i}",
                    "attributes": {"index": {"int": i}, "model": {"string": "H100"}},
                    "capacity": {"memory": {"value": "80Gi"}},
                }
                for i in range(devices)
            ],
        },
    }


def claim_body(
    name: str = "claim-a", namespace: str = "default", device_class: str = DRIVER
) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": device_class}}]}},
    }


def class_body(name: str = DRIVER) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
    }


def allocation(device: str = "gpu-0", node: str = "node-a") -> dict[str, Any]:
    return {
        "devices": {"results": [{"request": "gpu", "driver": DRIVER, "pool": node, "device": device}]},
        "nodeSelector": {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
            ]
        },
    }


def new_watch() -> Any:
    """A ``kubernetes.watch.Watch`` (the class is untyped; tests use it as Any)."""
    return watch.Watch()  # type: ignore[no-untyped-call]


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    *,
    timeout: float = 10.0,
) -> RawResponse:
    """One HTTP request; ``body`` is JSON-encoded unless it is already bytes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if payload is not None else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def raw_watch(url: str, path: str, timeout: float = 10.0) -> tuple[int, list[dict[str, Any]]]:
    """Read a whole watch response (the path should carry ``timeoutSeconds``); returns its events."""
    response = raw(url, "GET", path, timeout=timeout)
    lines = [json.loads(line) for line in response.body.splitlines() if line.strip()]
    return response.status, lines
