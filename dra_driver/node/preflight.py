"""Checks and locks that come before anything is published or served (issue 18 items 1 and 17).

Owns: ``check_dirs`` (every directory the agent will write is a directory, or can become one,
before the first slice is published: a plugin dir that is a file must not leave a half-started
node behind) and ``InstanceLock`` (an exclusive ``flock`` on a lock file in a directory, so a second
``hdra kubelet-plugin`` with the same state or plugin dir refuses to start instead of taking over
the first one's sockets and deleting them when it exits). It must never remove anything.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from dra_driver.node.config import NodeAgentError

LOCK_FILE = "hdra-kubelet-plugin.lock"
DIR_MODE = 0o750


def check_dirs(create: Mapping[str, Path], existing_or_creatable: Mapping[str, Path]) -> None:
    """``create``: flag → directory made now (with parents); ``existing_or_creatable``: flag →
    directory that must be one, or whose nearest existing ancestor is a directory. The first
    problem raises ``NodeAgentError`` naming the flag and the path."""
    for flag, path in {**create, **existing_or_creatable}.items():
        _check_creatable(flag, path)
    for flag, path in create.items():
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeAgentError(f"{flag} {path}: cannot create it: {exc.strerror or exc}") from None


def _check_creatable(flag: str, path: Path) -> None:
    current = path
    while True:
        try:
            is_dir = current.is_dir()
            exists = is_dir or current.exists()
        except OSError as exc:
            raise NodeAgentError(f"{flag} {path}: cannot inspect {current}: {exc.strerror or exc}") from None
        if exists:
            if not is_dir:
                where = "" if current == path else f" ({current} is in the way)"
                raise NodeAgentError(f"{flag} {path} is not a directory{where}")
            return
        if current.parent == current:
            return
        current = current.parent


class InstanceLock:
    """An exclusive, non-blocking ``flock`` on ``<directory>/hdra-kubelet-plugin.lock``.

    The lock file holds the owner's pid (for the refusal message); the kernel drops the lock when
    the process dies, however it dies, so a stale file never blocks a restart.
    """

    def __init__(self, directory: Path, flag: str) -> None:
        self._path = directory / LOCK_FILE
        self._flag = flag
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise NodeAgentError(
                f"{self._flag}: cannot open lock file {self._path}: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"pid {owner}" if owner else "another process"
                raise NodeAgentError(
                    f"another hdra kubelet-plugin ({who}) already runs with {self._flag} "
                    f"{self._path.parent}; stop it first or give this one its own directories"
                ) from None
            raise NodeAgentError(f"{self._flag}: cannot lock {self._path}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock; the file stays (removing it would race a successor)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
