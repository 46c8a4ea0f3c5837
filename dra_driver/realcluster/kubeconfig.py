"""Kubeconfig files for the real control plane: the CA, the server URL and a client certificate.

Owns: the kubeconfig layout (one cluster, one user authenticated by an x509 client certificate or
a bearer token such as a ServiceAccount's, one context, set as current; certificate data embedded
so the file stands alone) that kubectl, the
components and ``kubernetes.config`` accept. Written with mode 0600. It must never contact the
server.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from dra_driver.realcluster.certs import CertPair

CONTEXT = "hdra-real"


def kubeconfig(
    url: str, ca_cert: Path, client: CertPair | str, user: str, namespace: str = "default"
) -> dict[str, object]:
    """``client`` is a certificate pair, or a bearer token."""
    if isinstance(client, str):
        credentials = {"token": client}
    else:
        cert, key = client.pem()
        credentials = {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {"server": url, "certificate-authority-data": _b64(ca_cert.read_bytes())},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: Path, url: str, ca_cert: Path, client: CertPair | str, user: str) -> Path:
    """Write the kubeconfig to ``path`` (mode 0600, parents created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(url, ca_cert, client, user), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
