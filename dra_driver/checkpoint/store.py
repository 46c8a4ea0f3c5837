"""The crash-safe checkpoint file ``<state_dir>/checkpoint.json`` (DESIGN §9).

Owns: ``CheckpointStore`` and ``LoadReport``. Every ``put``/``remove`` rewrites the whole file
atomically (temp file, rename; mode 0600, state dir created 0700), and changes memory only after
the file is replaced, so memory and the file never disagree. ``durable`` adds the fsyncs of the
file and the directory (DESIGN §9 says which writes need them). Group commit: changes that
arrive while a write is in progress are written together by the next write (one file write for
a whole batch of claims); each call returns once the write holding its change is done, and that
write is durable if any change in it asked to be. A file that
cannot be trusted is moved aside to ``checkpoint.json.corrupt-<UTC time>`` and the store starts
empty, reporting why; a file from an earlier boot keeps its entries and is reported as such.
One lock serialises all access, so different claims can be recorded from several threads. It
must never decide what to do with an entry (roll back, redo): that is ``dra_driver.prepare``'s job.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dra_driver.cdi import atomic_write, fsync_dir, temp_files_of
from dra_driver.checkpoint.codec import CorruptCheckpoint, decode, encode_plain
from dra_driver.checkpoint.models import CheckpointEntry

CHECKPOINT_NAME = "checkpoint.json"
FILE_MODE = 0o600
STATE_DIR_MODE = 0o700
DEFAULT_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_KEPT_ERRORS = 64


class CheckpointError(Exception):
    """The checkpoint could not be read or written; the message names the path and the cause."""


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` found.

    ``rebooted`` is True when the file was written in another boot (entries are kept: their
    containers are gone, but their files may remain and need cleaning). ``corrupt_reason`` and
    ``moved_to`` are set when the file was moved aside and the store started empty.
    """

    claims: int
    boot_id: str
    previous_boot_id: str | None = None
    rebooted: bool = False
    corrupt_reason: str | None = None
    moved_to: Path | None = None
    removed_temp_files: tuple[Path, ...] = ()


def read_boot_id(path: Path) -> str:
    """This boot's id (Linux ``boot_id``), or "" where it cannot be read (then no reboot is reported)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class CheckpointStore:
    """Prepared claims by UID, persisted in ``<state_dir>/checkpoint.json``."""

    def __init__(self, state_dir: Path, boot_id_path: Path = DEFAULT_BOOT_ID_PATH) -> None:
        if not state_dir.is_absolute():
            raise CheckpointError(f"checkpoint state dir {state_dir} is not an absolute path")
        self._dir = state_dir
        self._path = state_dir / CHECKPOINT_NAME
        self._boot_id_path = boot_id_path
        self._lock = threading.RLock()
        self._written = threading.Condition(self._lock)
        self._claims: dict[str, CheckpointEntry] = {}
        # Group commit: changes queued for the next write, the number of the batch they will be
        # written in, the last batch written, whether a write is in progress, the last error.
        self._pending: dict[str, CheckpointEntry | None] = {}
        self._pending_durable = False
        self._collecting = 1
        self._done = 0
        self._writing = False
        self._errors: dict[int, str] = {}
        # uid -> (entry, its plain JSON): only one writer at a time uses it (``_writing``).
        self._plain: dict[str, tuple[CheckpointEntry, dict[str, Any]]] = {}
        self._boot_id = ""
        self._report: LoadReport | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def last_report(self) -> LoadReport | None:
        """The report of the last ``load`` (None before the first)."""
        return self._report

    def load(self) -> LoadReport:
        """(Re)read the file, replacing what is in memory; never raises for a corrupt file."""
        with self._lock:
            self._boot_id = read_boot_id(self._boot_id_path)
            removed = tuple(temp_files_of(self._path))
            for temp in removed:
                temp.unlink(missing_ok=True)
            try:
                raw = self._path.read_bytes()
            except FileNotFoundError:
                return self._finish({}, LoadReport(0, self._boot_id, removed_temp_files=removed))
            except OSError as exc:
                raise CheckpointError(f"reading checkpoint {self._path} failed: {exc}") from exc
            try:
                document = decode(raw)
            except CorruptCheckpoint as exc:
                moved_to = self._move_aside()
                report = LoadReport(
                    0, self._boot_id, corrupt_reason=exc.reason, moved_to=moved_to, removed_temp_files=removed
                )
                return self._finish({}, report)
            rebooted = bool(self._boot_id) and bool(document.boot_id) and document.boot_id != self._boot_id
            report = LoadReport(
                len(document.claims),
                self._boot_id,
                previous_boot_id=document.boot_id,
                rebooted=rebooted,
                removed_temp_files=removed,
            )
            return self._finish(dict(document.claims), report)

    def _finish(self, claims: dict[str, CheckpointEntry], report: LoadReport) -> LoadReport:
        self._claims = claims
        self._report = report
        return report

    def _move_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self._path.with_name(f"{CHECKPOINT_NAME}.corrupt-{stamp}")
        counter = 1
        while target.exists():
            target = self._path.with_name(f"{CHECKPOINT_NAME}.corrupt-{stamp}-{counter}")
            counter += 1
        try:
            os.replace(self._path, target)
            fsync_dir(self._dir)
        except OSError as exc:
            raise CheckpointError(
                f"moving corrupt checkpoint {self._path} to {target} failed: {exc}"
            ) from exc
        return target

    def _ensure_loaded(self) -> None:
        if self._report is None:
            self.load()

    def get(self, uid: str) -> CheckpointEntry | None:
        with self._lock:
            self._ensure_loaded()
            return self._claims.get(uid)

    def entries(self) -> list[CheckpointEntry]:
        """All entries, sorted by claim UID (the same order before and after a reload)."""
        with self._lock:
            self._ensure_loaded()
            return [self._claims[uid] for uid in sorted(self._claims)]

    def put(self, entry: CheckpointEntry, *, durable: bool = True) -> None:
        """Record (or replace) the entry of ``entry.uid``; written (and fsynced if ``durable``) on return."""
        self._commit({entry.uid: entry}, durable)

    def remove(self, uid: str, *, durable: bool = True) -> bool:
        """Forget the claim and persist; False (and no write) if it was not recorded."""
        with self._lock:
            self._ensure_loaded()
            if uid not in self._claims and uid not in self._pending:
                return False
        self._commit({uid: None}, durable)
        return True

    def _commit(self, changes: dict[str, CheckpointEntry | None], durable: bool) -> None:
        """Queue ``changes`` (None removes) and return once a write that holds them is done.

        The first caller finding no write in progress writes everything queued so far (its own
        change included); callers arriving meanwhile queue theirs and wait for the next write.
        """
        with self._written:
            self._ensure_loaded()
            self._pending.update(changes)
            self._pending_durable = self._pending_durable or durable
            batch = self._collecting
            while self._done < batch:
                if self._writing:
                    self._written.wait()
                else:
                    self._write_pending()
            error = self._errors.get(batch)
        if error is not None:
            raise CheckpointError(error)

    def _write_pending(self) -> None:
        """Write the queued batch; called and returns with the lock held, writes without it."""
        batch, changes, durable = self._collecting, self._pending, self._pending_durable
        self._pending, self._pending_durable = {}, False
        self._collecting += 1
        self._writing = True
        claims = dict(self._claims)
        for uid, entry in changes.items():
            if entry is None:
                claims.pop(uid, None)
            else:
                claims[uid] = entry
        error: str | None = None
        self._lock.release()
        try:
            self._persist(claims, durable)
        except CheckpointError as exc:
            error = str(exc)
        finally:
            self._lock.acquire()
        if error is None:
            self._claims = claims
            for gone in self._plain.keys() - claims.keys():
                del self._plain[gone]
        else:  # kept for the waiters of this batch; failures are rare, so a few are enough
            self._errors[batch] = error
            for old in sorted(self._errors)[:-_KEPT_ERRORS]:
                del self._errors[old]
        self._done = batch
        self._writing = False
        self._written.notify_all()

    def _plain_of(self, entry: CheckpointEntry) -> dict[str, Any]:
        """The entry's plain JSON, dumped once per entry object (entries are immutable)."""
        cached = self._plain.get(entry.uid)
        if cached is not None and cached[0] is entry:
            return cached[1]
        plain = entry.model_dump(mode="json")
        self._plain[entry.uid] = (entry, plain)
        return plain

    def _persist(self, claims: dict[str, CheckpointEntry], durable: bool) -> None:
        data = encode_plain({uid: self._plain_of(entry) for uid, entry in claims.items()}, self._boot_id)
        try:
            if not self._dir.exists():
                self._dir.parent.mkdir(parents=True, exist_ok=True)
                self._dir.mkdir(mode=STATE_DIR_MODE, exist_ok=True)
                os.chmod(self._dir, STATE_DIR_MODE)
            atomic_write(self._path, data, FILE_MODE, durable=durable)
        except OSError as exc:
            raise CheckpointError(f"writing checkpoint {self._path} failed: {exc}") from exc
