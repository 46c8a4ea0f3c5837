"""Kubeconfig files pointing at a dev cluster.

Owns: the kubeconfig layout (one cluster, one user with a dummy bearer token, one context, set as
current) that kubectl, ``kubernetes.config.load_kube_config`` and lightkube accept. The server does
no authentication; the token exists only because some clients refuse a user-less config. It must
never contact the server.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

CONTEXT = "hdra-dev"
DUMMY_TOKEN = "hdra-dev-cluster-no-auth"  # noqa: S105 - not a secret: the server checks no credentials


def kubeconfig(url: str, namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {"token": DUMMY_TOKEN}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: Path, url: str) -> Path:
    """Write the kubeconfig for ``url`` to ``path`` (mode 0600, parents created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(url), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
