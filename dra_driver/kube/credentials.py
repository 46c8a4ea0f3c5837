"""Credentials: the Authorization header for each request, refreshed as the source requires.

Owns: static bearer tokens, token files re-read once a minute (the in-cluster service account's
projected token is rotated by the kubelet; client-go re-reads it on the same period), basic auth,
and exec credential plugins (``client.authentication.k8s.io`` ``ExecCredential`` v1 and v1beta1,
as client-go's plugin/pkg/client/auth/exec runs them): the plugin runs on first use, its token is
kept until its ``expirationTimestamp`` and it runs again after that or after the server answered
401. Every :class:`Credentials` is safe to share between threads. A source that fails at request
time raises :class:`CredentialError` (an ``OSError``, so the call fails as "no response" and the
retry policy paces further attempts), never a traceback of the plugin.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .messages import one_line

# client-go re-reads token files (in-cluster and kubeconfig tokenFile) at most this often.
TOKEN_FILE_PERIOD_S = 60.0
# An exec plugin that does not answer within this long is treated as failed.
EXEC_TIMEOUT_S = 60.0
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class CredentialError(OSError):
    """The credential source could not produce credentials (unreadable token file, failed plugin)."""


class Credentials(Protocol):
    def headers(self) -> dict[str, str]:
        """The headers that authenticate one request (may run a plugin or read a file)."""
        ...

    def invalidate(self) -> None:
        """The server answered 401 with the last headers: fetch fresh ones next time."""
        ...


class NoCredentials:
    """Anonymous (or authenticated by a client certificate, which lives in the TLS context)."""

    def headers(self) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        return None


@dataclass(frozen=True)
class StaticToken:
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def invalidate(self) -> None:
        return None


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str

    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}

    def invalidate(self) -> None:
        return None


class TokenFile:
    """A bearer token read from ``path``, re-read every ``period_s`` (and after a 401).

    A failed re-read keeps the last good token (the file may be mid-rotation) and tries again on
    the next request; only a token that was never readable is an error.
    """

    def __init__(self, path: Path, period_s: float = TOKEN_FILE_PERIOD_S) -> None:
        self.path = path
        self.period_s = period_s
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at = -float("inf")

    def _read(self) -> str:
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"token file {self.path} is not readable: {one_line(exc)}") from None
        if not token:
            raise CredentialError(f"token file {self.path} is empty")
        return token

    def headers(self) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            if self._token is None or now - self._read_at >= self.period_s:
                try:
                    self._token = self._read()
                except CredentialError:
                    if self._token is None:
                        raise
                self._read_at = now
            token = self._token
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = -float("inf")


@dataclass(frozen=True)
class ExecSpec:
    """A kubeconfig ``users[].user.exec`` stanza, paths already resolved against its file."""

    api_version: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    interactive_mode: str = "IfAvailable"
    provide_cluster_info: bool = False
    cluster_info: Mapping[str, Any] = field(default_factory=dict)


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class ExecPlugin:
    """Runs an exec credential plugin; keeps its token until it expires or the server refuses it."""

    def __init__(self, spec: ExecSpec, environ: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        self._environ = environ
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: datetime | None = None

    def _request(self) -> str:
        spec: dict[str, Any] = {"interactive": False}
        if self.spec.provide_cluster_info:
            spec["cluster"] = dict(self.spec.cluster_info)
        return json.dumps({"apiVersion": self.spec.api_version, "kind": "ExecCredential", "spec": spec})

    def _run(self) -> tuple[str, datetime | None]:
        where = f"exec plugin {self.spec.command!r}"
        env = dict(os.environ if self._environ is None else self._environ)
        env.update(self.spec.env)
        env["KUBERNETES_EXEC_INFO"] = self._request()
        try:
            done = subprocess.run(
                [self.spec.command, *self.spec.args],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=EXEC_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise CredentialError(f"{where} could not run: {one_line(exc)}") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.decode(errors="replace").split())[:300] or "no output on stderr"
            raise CredentialError(f"{where} exited with status {done.returncode}: {said}")
        try:
            answer = json.loads(done.stdout)
        except ValueError as exc:
            raise CredentialError(f"{where} did not print an ExecCredential as JSON: {exc}") from None
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise CredentialError(f"{where} printed something that is not an ExecCredential")
        if answer.get("apiVersion") != self.spec.api_version:
            raise CredentialError(
                f"{where} answered apiVersion {answer.get('apiVersion')!r}, "
                f"expected {self.spec.api_version!r}"
            )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise CredentialError(f"{where}: the ExecCredential has no status")
        if status.get("clientCertificateData") or status.get("clientKeyData"):
            raise CredentialError(
                f"{where} returned a client certificate (status.clientCertificateData): hdra supports "
                "exec plugins that return a token only"
            )
        token = status.get("token")
        if not isinstance(token, str) or not token:
            raise CredentialError(f"{where}: the ExecCredential has no status.token")
        expiry = status.get("expirationTimestamp")
        try:
            expires = _parse_time(expiry) if isinstance(expiry, str) and expiry else None
        except ValueError:
            raise CredentialError(f"{where}: status.expirationTimestamp {expiry!r} is not RFC 3339") from None
        return token, expires

    def headers(self) -> dict[str, str]:
        with self._lock:
            expired = self._expires is not None and datetime.now(UTC) >= self._expires
            if self._token is None or expired:
                self._token, self._expires = self._run()
            token = self._token
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


@dataclass(frozen=True)
class Impersonating:
    """Adds kubectl's ``--as`` header (kubeconfig ``users[].user.as``) to ``inner``'s."""

    inner: Credentials
    user: str

    def headers(self) -> dict[str, str]:
        headers = self.inner.headers()
        headers["Impersonate-User"] = self.user
        return headers

    def invalidate(self) -> None:
        self.inner.invalidate()
