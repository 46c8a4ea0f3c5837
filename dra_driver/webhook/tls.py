"""The server's TLS context, reloaded when the certificate or key file changes.

Owns: ``ReloadingContext``: a TLS 1.2+ server ``SSLContext`` built from a PEM certificate (chain)
and key, and ``context()``, which every new connection calls. It compares the files' identity
(inode, size, mtime and ctime in ns) with what it loaded; when they differ it builds a new
context. A reload that fails (files half-written by cert-manager, a key that does not match the
certificate) keeps the old context and logs the cause once per change of the files; the next
change is tried again. Building the first context must succeed (``start`` fails otherwise).
It must never serve with a weaker protocol than TLS 1.2.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from pathlib import Path

log = logging.getLogger("hdra.webhook")

Signature = tuple[tuple[int, int, int, int], tuple[int, int, int, int]]


class CertificateError(Exception):
    """The certificate or key cannot be loaded; the message names the files and the cause."""


def _stamp(path: Path) -> tuple[int, int, int, int]:
    info = os.stat(path)
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def build_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``cert``/``key`` that refuses anything below TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot load certificate {cert} with key {key}: {exc}") from exc
    return context


class ReloadingContext:
    """The current SSLContext for a certificate/key pair that may be replaced on disk."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self._lock = threading.Lock()
        try:
            self._signature: Signature = self._read_signature()
        except OSError as exc:
            raise CertificateError(f"cannot read certificate {cert} or key {key}: {exc}") from exc
        self._context = build_context(cert, key)
        self._failed: Signature | None = None
        self._unreadable = False
        self.reloads = 0

    def _read_signature(self) -> Signature:
        return _stamp(self.cert), _stamp(self.key)

    def context(self) -> ssl.SSLContext:
        """The context for a new connection, reloaded first if the files changed."""
        with self._lock:
            try:
                signature = self._read_signature()
            except OSError as exc:
                if not self._unreadable:
                    log.warning("keeping the current certificate, the files cannot be read: %s", exc)
                    self._unreadable = True
                return self._context
            self._unreadable = False
            if signature in (self._signature, self._failed):
                return self._context
            try:
                context = build_context(self.cert, self.key)
            except CertificateError as exc:
                log.warning("keeping the current certificate, the new files do not load: %s", exc)
                self._failed = signature
                return self._context
            self._context, self._signature, self._failed = context, signature, None
            self.reloads += 1
            log.info("reloaded certificate %s and key %s", self.cert, self.key)
            return self._context
