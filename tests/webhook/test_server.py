"""The HTTPS server over real TLS on 127.0.0.1: round trips, certificate reload, TLS floor, bad input."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from dra_driver.kube import KubeClient, RetryPolicy
from dra_driver.kube.config import ClusterConfig
from dra_driver.kube.credentials import NoCredentials
from dra_driver.kube.transport import Transport
from dra_driver.webhook import WebhookServer, apply_patch
from tests.webhook.support import (
    CertPair,
    client_context,
    connect,
    decoded_patch,
    make_cert,
    pod,
    post,
    review,
)


def _serial(port: int, context: ssl.SSLContext) -> int:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cert = tls.getpeercert()
        assert cert is not None
        return int(str(cert["serialNumber"]), 16)


def _get_healthz(conn: http.client.HTTPSConnection) -> bytes:
    conn.request("GET", "/healthz")
    return conn.getresponse().read()


def test_healthz_and_unknown_paths(server: WebhookServer, certs: CertPair) -> None:
    conn = connect(server.port, client_context(certs))
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"ok")
    conn.request("GET", "/nope")  # same keep-alive connection
    response = conn.getresponse()
    assert response.status == 404
    assert "/healthz" in json.loads(response.read())["message"]
    status, answer = post(conn, "/other", json.dumps(review(pod())).encode())
    assert status == 404
    assert "/validate" in answer["message"]


def test_admission_review_round_trip(api_server: WebhookServer, certs: CertPair) -> None:
    conn = connect(api_server.port, client_context(certs))
    request = review(pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000"}))
    status, answer = post(conn, "/mutate", json.dumps(request).encode())
    assert status == 200
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == request["request"]["uid"]
    assert response["allowed"] is True
    converted = apply_patch(request["request"]["object"], decoded_patch(answer))
    assert converted["spec"]["containers"][0]["resources"]["claims"] == [{"name": "hdra-main"}]

    claim = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [{"name": "gpu", "exactly": {"deviceClassName": "nvidia.hdra.io"}}],
                "config": [
                    {
                        "opaque": {
                            "driver": "nvidia.hdra.io",
                            "parameters": {
                                "apiVersion": "hdra.io/v1alpha1",
                                "kind": "AcceleratorConfig",
                                "logLevel": 9,
                            },
                        }
                    }
                ],
            }
        },
    }
    request = review(claim, kind="ResourceClaim", group="resource.k8s.io")
    status, answer = post(conn, "/validate", json.dumps(request).encode())  # same connection again
    assert status == 200
    response = answer["response"]
    assert response["uid"] == request["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert "spec.devices.config[0].opaque.parameters.logLevel" in response["status"]["message"]
    assert "patch" not in response


def test_certificate_is_reloaded_when_the_files_change(
    server: WebhookServer, certs: CertPair, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    renewed = make_cert(tmp_path / "renewed", serial=2002)
    trusting_both = client_context(certs, renewed)
    trusting_renewed = client_context(renewed)
    assert _serial(server.port, trusting_both) == certs.serial

    # Replace the files the way cert-manager's secret volume does: new files renamed into place.
    os.replace(renewed.cert, certs.cert)
    os.replace(renewed.key, certs.key)
    assert _serial(server.port, trusting_both) == renewed.serial
    conn = connect(server.port, trusting_renewed)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200

    # A broken update keeps serving the last good certificate and says why.
    caplog.set_level(logging.WARNING, logger="hdra.webhook")
    certs.key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert _serial(server.port, trusting_both) == renewed.serial
    assert any(
        "keeping the current certificate" in r.getMessage() and str(certs.key) in r.getMessage()
        for r in caplog.records
    )
    assert server.tls is not None
    assert server.tls.reloads == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_is_refused_and_1_2_accepted(server: WebhookServer, certs: CertPair) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")

    # Control: this client really can speak TLS 1.1 to a server that allows it.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.minimum_version = ssl.TLSVersion.TLSv1_1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(certs.cert, certs.key)
    listener = socket.create_server(("127.0.0.1", 0))
    versions: list[str | None] = []

    def accept_one() -> None:
        conn, _ = listener.accept()
        try:
            with permissive.wrap_socket(conn, server_side=True) as tls:
                versions.append(tls.version())
        except (ssl.SSLError, OSError):
            versions.append(None)

    thread = threading.Thread(target=accept_one)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw, old.wrap_socket(raw) as tls:
            control = tls.version()
    except ssl.SSLError as exc:
        pytest.skip(f"this OpenSSL cannot speak TLS 1.1 at all: {exc}")
    finally:
        thread.join(10)
        listener.close()
    assert control == "TLSv1.1"

    with (
        pytest.raises((ssl.SSLError, ConnectionResetError)),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        old.wrap_socket(raw),
    ):
        pass

    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}).encode(),
            "admission.k8s.io/v1beta1",
        ),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "request"),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {}}}
            ).encode(),
            "request.uid",
        ),
    ],
    ids=["syntax", "array", "old-version", "no-request", "no-uid"],
)
def test_malformed_reviews_get_400(
    server: WebhookServer, certs: CertPair, body: bytes, fragment: str
) -> None:
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, "/validate", body)
    assert status == 400
    assert fragment in answer["message"]


def test_post_without_content_length_gets_400(server: WebhookServer, certs: CertPair) -> None:
    conn = connect(server.port, client_context(certs))
    conn.putrequest("POST", "/validate")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400
    assert "Content-Length" in json.loads(response.read())["message"]


def test_api_failure_denies_with_the_cause(certs: CertPair) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    dead_port = listener.getsockname()[1]
    listener.close()  # nothing listens there any more: every API call fails fast
    dead = KubeClient(
        Transport(ClusterConfig(server=f"http://127.0.0.1:{dead_port}", credentials=NoCredentials())),
        retry=RetryPolicy(attempts=1, deadline_s=2.0, request_timeout_s=1.0),
    )
    with WebhookServer(certs.cert, certs.key, host="127.0.0.1", port=0, kube=dead) as server:
        conn = connect(server.port, client_context(certs))
        status, answer = post(conn, "/mutate", json.dumps(review(pod({"nvidia.com/gpu": "1"}))).encode())
    assert status == 200
    response = answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert "could not complete an API call" in response["status"]["message"]
    assert "Namespace" in response["status"]["message"]


def test_internal_error_denies_naming_it(
    server: WebhookServer, certs: CertPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise AttributeError("'str' object has no attribute 'append'")

    monkeypatch.setattr("dra_driver.webhook.mutate.convert_pod", broken)
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, "/mutate", json.dumps(review(pod({"nvidia.com/gpu": "1"}))).encode())
    assert status == 200
    response = answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert "internal webhook error: AttributeError" in response["status"]["message"]
    assert "Pod default/trainer" in response["status"]["message"]


DEEP = b"[" * 100_000


@pytest.mark.parametrize("path", ["/validate", "/mutate"])
def test_deeply_nested_or_binary_bodies_get_400(server: WebhookServer, certs: CertPair, path: str) -> None:
    """Issue 18 item 15: 100,000 nested ``[`` closed the connection with a RecursionError."""
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, path, DEEP)
    assert status == 400
    assert (
        answer["message"]
        == "malformed AdmissionReview: the body nests arrays or objects deeper than 100 levels"
    )
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, path, b"\xff\xfe")
    assert (status, answer["message"]) == (
        400,
        "malformed AdmissionReview: the body is not UTF-8: byte 0 is invalid",
    )


def _claim(devices: Any) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "c", "namespace": "default"},
        "spec": {"devices": devices},
    }


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_claim("oops"), "spec.devices must be an object, got str"),
        (_claim({"config": "oops"}), "spec.devices.config must be a list, got str"),
        (_claim({"requests": 7}), "spec.devices.requests must be a list, got int"),
    ],
)
def test_garbage_shapes_are_denied_with_400_naming_the_field(
    server: WebhookServer, certs: CertPair, obj: dict[str, Any], message: str
) -> None:
    """Issue 18 item 15: ``spec.devices: "oops"`` was denied with 500 "internal webhook error"."""
    body = review(obj, kind="ResourceClaim", group="resource.k8s.io")
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, "/validate", json.dumps(body).encode())
    assert status == 200
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 400
    assert answer["response"]["status"]["message"] == f"ResourceClaim default/c: {message}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["spec"]["containers"][0]["resources"].update(claims={"not": "a list"}),
         'container "main": resources.claims must be a list, got dict'),
        (lambda p: p["metadata"].update(annotations=["x"]),
         "metadata.annotations must be an object, got list"),
        (lambda p: p["spec"].update(resourceClaims="x"), "spec.resourceClaims must be a list, got str"),
    ],
)  # fmt: skip
def test_garbage_pods_are_denied_with_400_naming_the_field(
    server: WebhookServer, certs: CertPair, change: Any, message: str
) -> None:
    garbage = pod({"nvidia.com/gpu": "1"})
    change(garbage)
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, "/mutate", json.dumps(review(garbage)).encode())
    assert status == 200
    assert answer["response"]["status"]["code"] == 400
    assert message in answer["response"]["status"]["message"]


def test_mutating_without_an_api_client_denies(server: WebhookServer, certs: CertPair) -> None:
    conn = connect(server.port, client_context(certs))
    status, answer = post(conn, "/mutate", json.dumps(review(pod({"nvidia.com/gpu": "1"}))).encode())
    assert status == 200
    assert answer["response"]["allowed"] is False
    assert "no API client" in answer["response"]["status"]["message"]
    # A pod without HAMi resources passes untouched.
    status, answer = post(conn, "/mutate", json.dumps(review(pod({"cpu": "1"}))).encode())
    assert answer["response"] == {"uid": answer["response"]["uid"], "allowed": True}


def test_stop_closes_idle_keep_alive_connections(certs: CertPair) -> None:
    server = WebhookServer(certs.cert, certs.key, host="127.0.0.1", port=0).start()
    conn = connect(server.port, client_context(certs))
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok"
    server.stop()
    with pytest.raises((http.client.HTTPException, OSError)):
        _get_healthz(conn)
