"""Crash-safe file replacement: temp file in the same directory, (fsync,) rename, (fsync directory).

Owns: ``atomic_write``, ``fsync_dir`` and ``temp_files_of`` (the leftovers a crash can leave).
A reader sees either the old file or the new one, never a partial file, also after the process is
killed (the rename is atomic and the page cache outlives the process); after a failure the old
file is untouched and the temp file is removed. ``durable=True`` (the default) adds the two
fsyncs that make the new content survive a power loss; callers pass ``durable=False`` only where
DESIGN §9 says a power loss needs no copy of that write. Temp names start with ``.`` and end in ``.tmp``,
so CDI runtimes (which read only ``*.json``/``*.yaml``) never pick one up. It must never write
outside the target's directory.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# Temp names: ``.<name>.<pid>-<n>.tmp``, created with O_EXCL (one system call, where mkstemp also
# draws random names in Python); a name left by a crashed process of the same pid falls back to mkstemp.
_serial = itertools.count()


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (file mode ``mode``) so that a crash leaves old or new, never half.

    With ``durable`` the data and the rename are on disk when this returns (fsync of the file, then
    of the directory); without, they are in the page cache: safe against a killed process, not
    against a power loss. The directory must exist. Raises ``OSError`` from the failing step; the
    temp file is gone then.
    """
    directory = path.parent
    temp = directory / f".{path.name}.{os.getpid()}-{next(_serial)}{TEMP_SUFFIX}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=directory)
        temp = Path(temp_name)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(directory)


def temp_files_of(path: Path) -> list[Path]:
    """Temp files ``atomic_write`` may have left next to ``path`` when the process died mid-write."""
    prefix = f".{path.name}."
    if not path.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX) and entry.is_file()
    )
