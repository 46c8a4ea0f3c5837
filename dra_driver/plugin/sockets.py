"""Filesystem side of the plugin's unix sockets: directories, stale sockets, permissions, removal.

Owns: creating the plugin and registry directories (mode 0o750 for the levels it creates; an
existing directory, e.g. the kubelet's ``plugins_registry``, keeps its mode), clearing a stale
socket left by a previous run before binding, refusing to replace anything that is not a socket,
and removing sockets on stop. It must never delete a regular file, directory or symlink.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o750
SOCKET_MODE = 0o660
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


class SocketPathError(Exception):
    """A socket path cannot be used; the message names the path and the reason."""


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents with mode 0o750 (not subject to the umask)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    if not current.is_dir():
        raise SocketPathError(f"{current} exists and is not a directory; cannot create {path}")
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise SocketPathError(f"{directory} exists and is not a directory") from None
            continue
        os.chmod(directory, DIR_MODE)


def clear_stale_socket(path: Path) -> None:
    """Make ``path`` free for binding: remove a leftover socket; refuse anything else there."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SocketPathError(
            f"socket path {path} is {len(os.fsencode(path))} bytes long; unix sockets allow {MAX_SOCKET_PATH}"
        )
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SocketPathError(f"{path} exists and is not a socket; refusing to replace it")
    path.unlink(missing_ok=True)


def remove_socket(path: Path) -> None:
    """Remove the socket at ``path`` if one is there (grpc usually unlinks it itself on stop)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(mode):
        path.unlink(missing_ok=True)
