"""Cluster configuration without the official client: kubeconfig files and the in-cluster service account.

Owns: :class:`ClusterConfig` (server URL, TLS context, TLS server name, proxy, credentials) and the
two ways to get one. :func:`load_kubeconfig` reads one file or a ``KUBECONFIG`` list merged as
kubectl does (the first file that names a cluster, user or context wins; the first
``current-context`` wins; relative paths resolve against the file that holds them) and supports
``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``, ``tls-server-name``,
``proxy-url`` (http/https), ``client-certificate(-data)``/``client-key(-data)``, ``token``,
``tokenFile``, ``username``/``password``, ``as`` and ``exec`` (see :mod:`.credentials`).
:func:`load_incluster` reads ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the service account's token
(re-read once a minute) and CA. Anything else a kubeconfig may hold that changes how to connect
(``auth-provider``, ``as-groups``, a SOCKS proxy, ...) is a one-line :class:`KubeConfigError`
naming the field, never a traceback and never silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .credentials import (
    EXEC_API_VERSIONS,
    BasicAuth,
    Credentials,
    ExecPlugin,
    ExecSpec,
    Impersonating,
    NoCredentials,
    StaticToken,
    TokenFile,
)
from .errors import KubeConfigError
from .messages import one_line

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

# User fields that change how hdra would have to authenticate but are not supported: refused by name.
_UNSUPPORTED_USER = ("auth-provider", "as-groups", "as-uid", "as-user-extra")


@dataclass(frozen=True)
class ClusterConfig:
    """Everything the transport needs to reach one API server as one identity."""

    server: str
    credentials: Credentials
    ssl_context: ssl.SSLContext | None = None  # None: plain http
    tls_server_name: str | None = None
    insecure: bool = False
    proxy_url: str | None = None
    namespace: str | None = None
    source: str = ""  # for messages: "kubeconfig /path (context x)" or "in-cluster"


# -- TLS -----------------------------------------------------------------------------------------------


@contextmanager
def _private_file(data: bytes) -> Iterator[str]:
    """``data`` in a 0600 temporary file for as long as ``ssl`` needs a path to read it from."""
    handle, name = tempfile.mkstemp(prefix="hdra-kube-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        yield name
    finally:
        os.unlink(name)


def tls_context(
    *,
    ca_file: Path | None = None,
    ca_data: bytes | None = None,
    insecure: bool = False,
    cert_file: Path | None = None,
    cert_data: bytes | None = None,
    key_file: Path | None = None,
    key_data: bytes | None = None,
) -> ssl.SSLContext:
    """An SSL context trusting the given CA (else the system's) and presenting the client certificate.

    The system trust store is loaded only when no CA is given: it costs ~2 MiB and ~20 ms, and a
    cluster's own CA is what a kubeconfig or service account names. ``PROTOCOL_TLS_CLIENT``
    verifies the certificate and the host name, TLS 1.2 at least.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_data is not None:
        context.load_verify_locations(cadata=ca_data.decode("ascii", errors="replace"))
    elif ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if (cert_file or cert_data) and (key_file or key_data):
        with (
            _private_file(cert_data) if cert_data else _as_path(cert_file) as cert,
            _private_file(key_data) if key_data else _as_path(key_file) as key,
        ):
            context.load_cert_chain(certfile=cert, keyfile=key)
    return context


@contextmanager
def _as_path(path: Path | None) -> Iterator[str]:
    yield str(path)


# -- kubeconfig ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One named cluster, user or context and the directory of the file it came from."""

    body: Mapping[str, Any]
    base: Path
    file: Path


class _Merged:
    def __init__(self) -> None:
        self.sections: dict[str, dict[str, _Entry]] = {"clusters": {}, "users": {}, "contexts": {}}
        self.current_context: str | None = None
        self.files: list[Path] = []


_BODY_KEY = {"clusters": "cluster", "users": "user", "contexts": "context"}


def _read_file(path: Path, merged: _Merged) -> None:
    if not path.is_file():
        raise KubeConfigError(f"kubeconfig {path} does not exist or is not a file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"kubeconfig {path} is not readable YAML: {one_line(exc)}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig: expected a mapping at the top")
    merged.files.append(path)
    base = path.resolve().parent
    for section, body_key in _BODY_KEY.items():
        entries = document.get(section) or []
        if not isinstance(entries, list):
            raise KubeConfigError(f"kubeconfig {path} field {section} is not a list")
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            body = entry.get(body_key) if isinstance(entry, dict) else None
            if not isinstance(name, str) or not isinstance(body, dict):
                raise KubeConfigError(
                    f"kubeconfig {path} field {section}[{index}] needs a name and a {body_key} mapping"
                )
            merged.sections[section].setdefault(name, _Entry(body, base, path))
    current = document.get("current-context")
    if merged.current_context is None and isinstance(current, str) and current:
        merged.current_context = current


class _Fields:
    """Typed access to one kubeconfig mapping; every error names the file and the field."""

    def __init__(self, body: Mapping[str, Any], base: Path, where: str) -> None:
        self.body = body
        self.base = base
        self.where = where

    @classmethod
    def of(cls, entry: _Entry, where: str) -> _Fields:
        return cls(entry.body, entry.base, f"kubeconfig {entry.file} field {where}")

    def fail(self, key: str, problem: str) -> KubeConfigError:
        return KubeConfigError(f"{self.where}.{key} {problem}")

    def text(self, key: str) -> str | None:
        value = self.body.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, "is not a string")
        return value

    def flag(self, key: str) -> bool:
        value = self.body.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "is not true or false")
        return value

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        if value is None:
            return None
        path = Path(os.path.expanduser(value))
        path = path if path.is_absolute() else self.base / path
        if not path.is_file():
            raise self.fail(key, f"names {path}, which does not exist")
        return path

    def data(self, key: str) -> bytes | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(key, "is not base64") from None


def _exec_spec(user: _Fields, cluster: ClusterConfig, cluster_fields: _Fields) -> ExecSpec:
    raw = user.body.get("exec")
    if not isinstance(raw, dict):
        raise user.fail("exec", "is not a mapping")
    fields = _Fields(raw, user.base, f"{user.where}.exec")
    api_version = fields.text("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise fields.fail("apiVersion", f"is {api_version!r}; supported: {', '.join(EXEC_API_VERSIONS)}")
    command = fields.text("command")
    if command is None:
        raise fields.fail("command", "is missing")
    if "/" in command and not os.path.isabs(command):
        command = str(user.base / command)  # client-go: relative to the kubeconfig's directory
    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise fields.fail("args", "is not a list of strings")
    env: list[tuple[str, str]] = []
    for index, pair in enumerate(raw.get("env") or []):
        if not (
            isinstance(pair, dict)
            and isinstance(pair.get("name"), str)
            and isinstance(pair.get("value"), str)
        ):
            raise fields.fail(f"env[{index}]", "needs a string name and value")
        env.append((pair["name"], pair["value"]))
    mode = fields.text("interactiveMode") or "IfAvailable"
    if mode not in ("Never", "IfAvailable", "Always"):
        raise fields.fail("interactiveMode", f"is {mode!r}: expected Never, IfAvailable or Always")
    if mode == "Always":
        raise fields.fail("interactiveMode", "is Always, but hdra runs without a terminal")
    info: dict[str, Any] = {"server": cluster.server}
    if cluster.tls_server_name:
        info["tlsServerName"] = cluster.tls_server_name
    if cluster.insecure:
        info["insecureSkipTLSVerify"] = True
    ca = cluster_fields.text("certificate-authority-data")
    ca_path = cluster_fields.path("certificate-authority")
    if ca is not None:
        info["certificateAuthorityData"] = ca
    elif ca_path is not None:
        info["certificateAuthorityData"] = base64.b64encode(ca_path.read_bytes()).decode()
    if cluster.proxy_url:
        info["proxyURL"] = cluster.proxy_url
    return ExecSpec(
        api_version=str(api_version),
        command=command,
        args=tuple(args),
        env=tuple(env),
        interactive_mode=mode,
        provide_cluster_info=fields.flag("provideClusterInfo"),
        cluster_info=info,
    )


def _credentials(user: _Fields, cluster: ClusterConfig, cluster_fields: _Fields) -> Credentials:
    for key in _UNSUPPORTED_USER:
        if user.body.get(key):
            raise user.fail(key, "is not supported by hdra's client")
    token, token_file = user.text("token"), user.path("tokenFile")
    username, password = user.text("username"), user.text("password")
    has_exec = user.body.get("exec") is not None
    credentials: Credentials
    if has_exec:
        credentials = ExecPlugin(_exec_spec(user, cluster, cluster_fields))
    elif token is not None:
        credentials = StaticToken(token)
    elif token_file is not None:
        credentials = TokenFile(token_file)
    elif username is not None or password is not None:
        if username is None or password is None:
            raise user.fail("username", "and password must be given together")
        credentials = BasicAuth(username, password)
    else:
        credentials = NoCredentials()
    impersonate = user.text("as")
    return Impersonating(credentials, impersonate) if impersonate else credentials


def kubeconfig_paths(explicit: Path | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files to read: ``explicit``, else the ``KUBECONFIG`` list, else ``~/.kube/config``."""
    if explicit is not None:
        return [explicit]
    env = os.environ if environ is None else environ
    listed = [Path(os.path.expanduser(p)) for p in (env.get("KUBECONFIG") or "").split(os.pathsep) if p]
    if listed:
        return listed
    return [Path(os.path.expanduser("~/.kube/config"))]


def load_kubeconfig(paths: Sequence[Path], context: str | None = None) -> ClusterConfig:
    """The configuration of ``context`` (default: the current context) in the merged ``paths``.

    Like kubectl, files of a ``KUBECONFIG`` list that do not exist are skipped as long as one does.
    """
    merged = _Merged()
    present = [path for path in paths if path.exists()] if len(paths) > 1 else list(paths)
    if not present:
        raise KubeConfigError(f"kubeconfig {', '.join(map(str, paths))}: none of these files exists")
    for path in present:
        _read_file(path, merged)
    files = ", ".join(map(str, merged.files))
    name = context or merged.current_context
    if not name:
        raise KubeConfigError(f"kubeconfig {files} has no current-context, and no context was given")
    ctx_entry = merged.sections["contexts"].get(name)
    if ctx_entry is None:
        raise KubeConfigError(f"kubeconfig {files} has no context {name!r}")
    ctx = _Fields.of(ctx_entry, f"contexts[{name}].context")
    cluster_name, user_name = ctx.text("cluster"), ctx.text("user")
    if cluster_name is None:
        raise ctx.fail("cluster", "is missing")
    cluster_entry = merged.sections["clusters"].get(cluster_name)
    if cluster_entry is None:
        raise ctx.fail("cluster", f"names {cluster_name!r}, which no clusters entry defines")
    cluster = _Fields.of(cluster_entry, f"clusters[{cluster_name}].cluster")
    server = cluster.text("server")
    if server is None:
        raise cluster.fail("server", "is missing")
    if not server.startswith(("https://", "http://")):
        raise cluster.fail("server", f"is {server!r}: expected an https:// or http:// URL")
    proxy = cluster.text("proxy-url")
    if proxy is not None and not proxy.startswith(("http://", "https://")):
        raise cluster.fail("proxy-url", f"is {proxy!r}: hdra's client supports http and https proxies only")
    user = (
        _Fields.of(merged.sections["users"][user_name], f"users[{user_name}].user")
        if user_name is not None and user_name in merged.sections["users"]
        else None
    )
    if user_name is not None and user is None:
        raise ctx.fail("user", f"names {user_name!r}, which no users entry defines")
    insecure = cluster.flag("insecure-skip-tls-verify")
    context_ssl = None
    if server.startswith("https://"):
        try:
            context_ssl = tls_context(
                ca_file=cluster.path("certificate-authority"),
                ca_data=cluster.data("certificate-authority-data"),
                insecure=insecure,
                cert_file=user.path("client-certificate") if user else None,
                cert_data=user.data("client-certificate-data") if user else None,
                key_file=user.path("client-key") if user else None,
                key_data=user.data("client-key-data") if user else None,
            )
        except ssl.SSLError as exc:
            raise KubeConfigError(
                f"kubeconfig {files} (context {name!r}): a certificate or key does not load: {one_line(exc)}"
            ) from None
    config = ClusterConfig(
        server=server.rstrip("/"),
        credentials=NoCredentials(),
        ssl_context=context_ssl,
        tls_server_name=cluster.text("tls-server-name"),
        insecure=insecure,
        proxy_url=proxy,
        namespace=ctx.text("namespace"),
        source=f"kubeconfig {files} (context {name!r})",
    )
    if user is None:
        return config
    return ClusterConfig(
        server=config.server,
        credentials=_credentials(user, config, cluster),
        ssl_context=config.ssl_context,
        tls_server_name=config.tls_server_name,
        insecure=config.insecure,
        proxy_url=config.proxy_url,
        namespace=config.namespace,
        source=config.source,
    )


def load_incluster(
    environ: Mapping[str, str] | None = None, account_dir: Path = SERVICE_ACCOUNT_DIR
) -> ClusterConfig:
    """The pod's own service account: the API server's service address, CA and rotated token."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeConfigError(
            "not running in a pod: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset"
        )
    token, ca = account_dir / "token", account_dir / "ca.crt"
    for path in (token, ca):
        if not path.is_file():
            raise KubeConfigError(f"in-cluster service account file {path} does not exist")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 service address
    try:
        context = tls_context(ca_file=ca)
    except ssl.SSLError as exc:
        raise KubeConfigError(f"in-cluster CA {ca} does not load: {one_line(exc)}") from None
    namespace_file = account_dir / "namespace"
    namespace = namespace_file.read_text(encoding="utf-8").strip() if namespace_file.is_file() else None
    return ClusterConfig(
        server=f"https://{host}:{port}",
        credentials=TokenFile(token),
        ssl_context=context,
        namespace=namespace,
        source="in-cluster",
    )
