"""The lean client's configuration and authentication, per kind, against a tiny TLS API server.

The server (a thread, a self-signed CA from dra_driver.realcluster.certs) answers ``GET
/api/v1/nodes`` with an empty list when the request authenticates, and records what it saw: the
Authorization and Impersonate-User headers and the client certificate's common name. Kubeconfig
field names follow client-go's clientcmd/api/v1 types (tools/clientcmd/api/v1/types.go); the exec
protocol follows client-go's plugin/pkg/client/auth/exec/exec.go (KUBERNETES_EXEC_INFO in,
ExecCredential on stdout).
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from dra_driver.kube import (
    Forbidden,
    KubeClient,
    KubeConfigError,
    KubeError,
    RetryPolicy,
    Transport,
    load_incluster,
    load_kubeconfig,
)
from dra_driver.kube.credentials import TokenFile
from dra_driver.realcluster.certs import Pki, create_pki

ONE_TRY = RetryPolicy(attempts=1, deadline_s=5.0, request_timeout_s=5.0)


@dataclass
class Seen:
    authorization: list[str | None] = field(default_factory=list)
    impersonate: list[str | None] = field(default_factory=list)
    client_cn: list[str | None] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # Authorization values the server accepts; empty: any


@dataclass
class TlsServer:
    url: str
    pki: Pki
    seen: Seen


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return create_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: Pki) -> Iterator[TlsServer]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            seen.authorization.append(auth)
            seen.impersonate.append(self.headers.get("Impersonate-User"))
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            subject: Any = peer["subject"] if peer else ()  # ((("commonName", "alice"),), ...)
            names = dict(rdn[0] for rdn in subject)
            seen.client_cn.append(names.get("commonName"))
            if seen.accepted and auth not in seen.accepted:
                body = {"kind": "Status", "code": 401, "reason": "Unauthorized", "message": "Unauthorized"}
                self._answer(401, body)
                return
            self._answer(200, {"kind": "NodeList", "items": [], "metadata": {"resourceVersion": "1"}})

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki.serving.cert), str(pki.serving.key))
    context.load_verify_locations(cafile=str(pki.ca.cert))
    context.verify_mode = ssl.CERT_OPTIONAL
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsServer(f"https://127.0.0.1:{httpd.server_address[1]}", pki, seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def write_kubeconfig(
    path: Path, server: str, user: dict[str, Any], cluster: dict[str, Any] | None = None
) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(document))
    return path


def connect(path: Path, context: str | None = None) -> KubeClient:
    return KubeClient.from_kubeconfig(path, context, retry=ONE_TRY)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_token_and_ca_file(server: TlsServer, tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "kc", server.url, {"token": "abc"}, {"certificate-authority": str(server.pki.ca.cert)}
    )
    with connect(path) as client:
        assert client.nodes.list().resource_version == "1"
    assert server.seen.authorization == ["Bearer abc"]


def test_client_certificate_data_and_ca_data(server: TlsServer, tmp_path: Path) -> None:
    pair = server.pki.client("alice", "alice")
    user = {"client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)}
    path = write_kubeconfig(
        tmp_path / "kc", server.url, user, {"certificate-authority-data": b64(server.pki.ca.cert)}
    )
    with connect(path) as client:
        client.nodes.list()
    assert server.seen.client_cn == ["alice"]
    assert server.seen.authorization == [None]


def test_relative_certificate_files_resolve_against_the_kubeconfig(server: TlsServer, tmp_path: Path) -> None:
    pair = server.pki.client("bob", "bob")
    folder = tmp_path / "conf"
    folder.mkdir()
    for source, name in ((pair.cert, "bob.crt"), (pair.key, "bob.key"), (server.pki.ca.cert, "ca.crt")):
        (folder / name).write_bytes(source.read_bytes())
    user = {"client-certificate": "bob.crt", "client-key": "bob.key"}
    path = write_kubeconfig(folder / "kc", server.url, user, {"certificate-authority": "ca.crt"})
    with connect(path) as client:
        client.nodes.list()
    assert server.seen.client_cn == ["bob"]


def test_an_untrusted_server_is_a_tls_error_and_insecure_skips_the_check(
    server: TlsServer, tmp_path: Path
) -> None:
    strict = write_kubeconfig(tmp_path / "strict", server.url, {"token": "t"})
    with connect(strict) as client, pytest.raises(KubeError, match="TLS failed") as failed:
        client.nodes.list()
    assert type(failed.value) is KubeError  # not Unavailable: retrying cannot help
    insecure = write_kubeconfig(
        tmp_path / "insecure", server.url, {"token": "t"}, {"insecure-skip-tls-verify": True}
    )
    with connect(insecure) as client:
        client.nodes.list()


def test_tls_server_name_is_the_name_checked(server: TlsServer, tmp_path: Path) -> None:
    ca = str(server.pki.ca.cert)
    good = {"certificate-authority": ca, "tls-server-name": "kubernetes.default.svc"}
    with connect(write_kubeconfig(tmp_path / "good", server.url, {"token": "t"}, good)) as client:
        client.nodes.list()
    bad = {"certificate-authority": ca, "tls-server-name": "not-in-the-certificate.example"}
    bad_path = write_kubeconfig(tmp_path / "bad", server.url, {"token": "t"}, bad)
    with connect(bad_path) as client, pytest.raises(KubeError, match="TLS failed"):
        client.nodes.list()


def test_token_file_is_read_again_after_rotation(server: TlsServer, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    ca = {"certificate-authority": str(server.pki.ca.cert)}
    with connect(write_kubeconfig(tmp_path / "kc", server.url, {"tokenFile": str(token)}, ca)) as client:
        client.nodes.list()
        token.write_text("second\n")
        server.seen.accepted = {"Bearer second"}
        # Within the re-read period the old token goes out once; the 401 makes the next call re-read.
        with pytest.raises(Forbidden):
            client.nodes.list()
        client.nodes.list()
    assert server.seen.authorization == ["Bearer first", "Bearer first", "Bearer second"]


def test_token_file_period(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    source = TokenFile(token, period_s=0.0)
    assert source.headers() == {"Authorization": "Bearer one"}
    token.write_text("two")
    assert source.headers() == {"Authorization": "Bearer two"}
    token.unlink()  # mid-rotation: the last good token is kept
    assert source.headers() == {"Authorization": "Bearer two"}


def test_basic_auth_and_impersonation(server: TlsServer, tmp_path: Path) -> None:
    user = {"username": "admin", "password": "s3cret", "as": "system:serviceaccount:ns:sa"}
    ca = {"certificate-authority": str(server.pki.ca.cert)}
    with connect(write_kubeconfig(tmp_path / "kc", server.url, user, ca)) as client:
        client.nodes.list()
    assert server.seen.authorization == ["Basic " + base64.b64encode(b"admin:s3cret").decode()]
    assert server.seen.impersonate == ["system:serviceaccount:ns:sa"]


PLUGIN = """
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(sys.argv[1], "a") as log:
    log.write(json.dumps({"info": info, "extra": os.environ.get("EXTRA")}) + "\\n")
status = {"token": "exec-" + os.environ.get("EXTRA", "")}
if len(sys.argv) > 2:
    status["expirationTimestamp"] = sys.argv[2]
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


@pytest.mark.parametrize(
    "api_version", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
)
def test_exec_plugin_token_is_cached_until_it_expires(
    server: TlsServer, tmp_path: Path, api_version: str
) -> None:
    script, calls = tmp_path / "plugin.py", tmp_path / "calls.jsonl"
    script.write_text(PLUGIN)
    ca = {"certificate-authority": str(server.pki.ca.cert)}

    def exec_user(*extra: str) -> dict[str, Any]:
        return {
            "exec": {
                "apiVersion": api_version,
                "command": sys.executable,
                "args": [str(script), str(calls), *extra],
                "env": [{"name": "EXTRA", "value": "x1"}],
                "interactiveMode": "Never",
                "provideClusterInfo": True,
            }
        }

    with connect(
        write_kubeconfig(tmp_path / "kc", server.url, exec_user("2999-01-01T00:00:00Z"), ca)
    ) as client:
        client.nodes.list()
        client.nodes.list()
    runs = [json.loads(line) for line in calls.read_text().splitlines()]
    assert len(runs) == 1  # not expired: the token is reused
    assert runs[0]["extra"] == "x1"
    assert runs[0]["info"]["apiVersion"] == api_version
    assert runs[0]["info"]["spec"]["interactive"] is False
    assert runs[0]["info"]["spec"]["cluster"]["server"] == server.url
    assert server.seen.authorization == ["Bearer exec-x1", "Bearer exec-x1"]

    calls.unlink()
    with connect(
        write_kubeconfig(tmp_path / "kc2", server.url, exec_user("2000-01-01T00:00:00Z"), ca)
    ) as client:
        client.nodes.list()
        client.nodes.list()
    assert len(calls.read_text().splitlines()) == 2  # expired: the plugin runs again


def test_a_failing_exec_plugin_is_one_line_naming_it(server: TlsServer, tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys\nprint('token service down', file=sys.stderr)\nsys.exit(3)\n")
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }
    ca = {"certificate-authority": str(server.pki.ca.cert)}
    path = write_kubeconfig(tmp_path / "kc", server.url, user, ca)
    with connect(path) as client, pytest.raises(KubeError) as failed:
        client.nodes.list()
    message = str(failed.value)
    assert "exited with status 3: token service down" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("user", "cluster", "named"),
    [
        ({"auth-provider": {"name": "oidc"}}, {}, "users[u].user.auth-provider"),
        ({"as-groups": ["g"]}, {}, "users[u].user.as-groups"),
        ({}, {"proxy-url": "socks5://127.0.0.1:1080"}, "clusters[c].cluster.proxy-url"),
        (
            {"exec": {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}},
            {},
            "exec.apiVersion",
        ),
        ({"client-key-data": "not base64!"}, {}, "users[u].user.client-key-data"),
        ({"tokenFile": "missing-token"}, {}, "users[u].user.tokenFile"),
    ],
)
def test_unsupported_or_bad_fields_are_named(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any], named: str
) -> None:
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", user, cluster)
    with pytest.raises(KubeConfigError, match=named.replace("[", r"\[").replace("]", r"\]")) as failed:
        load_kubeconfig([path])
    assert "\n" not in str(failed.value)


def test_kubeconfig_list_merges_first_wins(server: TlsServer, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.write_text(
        yaml.safe_dump(
            {
                "current-context": "ctx",
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "from-first"}}],
            }
        )
    )
    second = write_kubeconfig(tmp_path / "second", server.url, {"token": "from-second"})
    config = load_kubeconfig([first, tmp_path / "absent", second])
    assert config.server == server.url
    assert config.credentials.headers() == {"Authorization": "Bearer from-first"}
    assert "context 'ctx'" in config.source


def test_in_cluster_service_account(server: TlsServer, tmp_path: Path) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("sa-token")
    (account / "ca.crt").write_bytes(server.pki.ca.cert.read_bytes())
    (account / "namespace").write_text("hdra-system")
    port = server.url.rsplit(":", 1)[1]
    config = load_incluster(
        {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}, account
    )
    assert config.namespace == "hdra-system"
    with KubeClient(Transport(config), retry=ONE_TRY) as client:
        client.nodes.list()
    assert server.seen.authorization == ["Bearer sa-token"]
    ipv6 = load_incluster({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, account)
    assert ipv6.server == "https://[fd00::1]:443"
    with pytest.raises(KubeConfigError, match="KUBERNETES_SERVICE_HOST"):
        load_incluster({}, account)
