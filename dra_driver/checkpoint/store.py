"""The crash-safe checkpoint of prepared claims: ``<state_dir>/checkpoint.json`` plus its journal (DESIGN §9).

Owns: ``CheckpointStore``, ``LoadReport`` and ``read_claims``. The state is a snapshot
(``checkpoint.json``: one line of canonical JSON with version, boot id and checksum, replaced
atomically: temp file, rename) followed by an append-only journal (``checkpoint.journal``,
its line format in ``journal.py``): a change costs one append, not a rewrite, and
on a disk file system an append is a page-cache copy where a rename allocates and frees blocks.
Every ``COMPACT_AFTER`` journal lines, on the first write after a load that found a torn journal
tail, and on the very first write, the whole state is written as a new snapshot and the journal is
truncated (compaction). Replaying a journal onto a snapshot that already holds its changes gives
the same state (the last line for a claim wins), so a crash between the snapshot's rename and the
truncation loses nothing. Files are mode 0600, the state dir 0700.

Memory changes only after the write holding a change is done, so memory and the files never
disagree. ``durable`` fsyncs the append (and the directory once, for the journal's own entry);
a compaction is fsynced (file and directory) when its batch asked for it, when the journal holds
a durable change, or when a live entry was last written durably (after a restart every loaded
entry counts as such until it is written again), so a non-fsynced compaction never replaces the
file holding a record that must survive a power loss. Group commit: changes that arrive while a
write is in progress are written together by the next write (one append for a whole batch of
claims); each call returns once the write holding its change is done, and that write is durable
if any change in it asked to be. A snapshot or journal that cannot be trusted is moved aside to
``<name>.corrupt-<UTC time>`` (both files go, the store starts empty, reporting why); a state
written in an earlier boot (the boot id of its last change) keeps its entries and is reported as
such. One lock serialises all access, so different claims can be recorded from several threads.
It must never decide what to do with an entry (roll back, redo): that is ``dra_driver.prepare``'s job.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dra_driver.cdi import atomic_write, fsync_dir, temp_files_of
from dra_driver.checkpoint.codec import CorruptCheckpoint, decode, encode_plain
from dra_driver.checkpoint.journal import journal_line, read_journal
from dra_driver.checkpoint.models import CheckpointEntry

CHECKPOINT_NAME = "checkpoint.json"
JOURNAL_NAME = "checkpoint.journal"
FILE_MODE = 0o600
STATE_DIR_MODE = 0o700
DEFAULT_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
# Journal lines after which the next write compacts: replaying this many at start stays in the
# milliseconds, and one snapshot rename per this many changes is noise.
COMPACT_AFTER = 512
_KEPT_ERRORS = 64


class CheckpointError(Exception):
    """The checkpoint could not be read or written; the message names the path and the cause."""


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` found.

    ``rebooted`` is True when the last change was written in another boot (entries are kept: their
    containers are gone, but their files may remain and need cleaning). ``corrupt_reason`` and
    ``moved_to`` are set when a file was moved aside and the store started empty.
    ``discarded_journal_bytes`` counts a torn journal tail that was not applied.
    """

    claims: int
    boot_id: str
    previous_boot_id: str | None = None
    rebooted: bool = False
    corrupt_reason: str | None = None
    moved_to: Path | None = None
    removed_temp_files: tuple[Path, ...] = ()
    journal_changes: int = 0
    discarded_journal_bytes: int = 0


def read_boot_id(path: Path) -> str:
    """This boot's id (Linux ``boot_id``), or "" where it cannot be read (then no reboot is reported)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class _Read:
    claims: dict[str, CheckpointEntry]
    written_in: str | None  # the boot of the last change; None without any file
    snapshot: bool
    journal_changes: int
    discarded_bytes: int


def _read_state(snapshot: Path, journal: Path) -> _Read:
    """Snapshot plus journal, without writing anything; ``CorruptCheckpoint`` for a bad file."""
    try:
        raw = snapshot.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise CheckpointError(f"reading checkpoint {snapshot} failed: {exc}") from exc
    try:
        journal_raw = journal.read_bytes()
    except FileNotFoundError:
        journal_raw = b""
    except OSError as exc:
        raise CheckpointError(f"reading checkpoint journal {journal} failed: {exc}") from exc
    claims: dict[str, CheckpointEntry] = {}
    written_in: str | None = None
    if raw is not None:
        document = decode(raw)
        claims, written_in = dict(document.claims), document.boot_id
    content = read_journal(journal_raw)
    for change in content.changes:
        if change.entry is None:
            claims.pop(change.uid, None)
        else:
            claims[change.uid] = change.entry
        written_in = change.boot_id
    return _Read(claims, written_in, raw is not None, len(content.changes), content.discarded_bytes)


def read_claims(state_dir: Path) -> dict[str, CheckpointEntry]:
    """The recorded claims of ``state_dir`` by UID, read only (for tools and tests: a running
    plugin may own the files); ``CheckpointError`` if they cannot be trusted."""
    try:
        return _read_state(state_dir / CHECKPOINT_NAME, state_dir / JOURNAL_NAME).claims
    except CorruptCheckpoint as exc:
        raise CheckpointError(f"checkpoint in {state_dir} is corrupt: {exc.reason}") from exc


class CheckpointStore:
    """Prepared claims by UID, persisted in ``<state_dir>/checkpoint.json`` and its journal."""

    def __init__(self, state_dir: Path, boot_id_path: Path = DEFAULT_BOOT_ID_PATH) -> None:
        if not state_dir.is_absolute():
            raise CheckpointError(f"checkpoint state dir {state_dir} is not an absolute path")
        self._dir = state_dir
        self._path = state_dir / CHECKPOINT_NAME
        self._journal = state_dir / JOURNAL_NAME
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
        # Only the one writer (``_writing``) touches these: uid -> (entry, its plain JSON); the
        # files' state (is there a snapshot, journal lines since it, must the next write compact,
        # does the journal hold a durable change, which live entries were last written durably,
        # was the directory fsynced since the journal could have been created).
        self._plain: dict[str, tuple[CheckpointEntry, dict[str, Any]]] = {}
        self._snapshot = False
        self._journal_lines = 0
        self._compact_next = False
        self._journal_durable = False
        self._durable_uids: set[str] = set()
        self._dir_synced = False
        self._boot_id = ""
        self._report: LoadReport | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def journal_path(self) -> Path:
        return self._journal

    @property
    def last_report(self) -> LoadReport | None:
        """The report of the last ``load`` (None before the first)."""
        return self._report

    def load(self) -> LoadReport:
        """(Re)read the files, replacing what is in memory; never raises for a corrupt file."""
        with self._lock:
            self._boot_id = read_boot_id(self._boot_id_path)
            removed = tuple(temp_files_of(self._path))
            for temp in removed:
                temp.unlink(missing_ok=True)
            self._plain = {}
            self._dir_synced = False
            self._journal_durable = False
            try:
                state = _read_state(self._path, self._journal)
            except CorruptCheckpoint as exc:
                moved_to = self._move_aside_all()
                self._snapshot, self._journal_lines, self._compact_next = False, 0, False
                self._durable_uids = set()
                report = LoadReport(
                    0, self._boot_id, corrupt_reason=exc.reason, moved_to=moved_to, removed_temp_files=removed
                )
                return self._finish({}, report)
            written_in = state.written_in
            rebooted = bool(self._boot_id) and bool(written_in) and written_in != self._boot_id
            self._snapshot = state.snapshot
            self._journal_lines = state.journal_changes
            # A torn tail must not stay in front of the next append: the next write compacts.
            self._compact_next = state.discarded_bytes > 0
            # How each entry was last written is not recorded: count all as durable until rewritten.
            self._durable_uids = set(state.claims)
            self._journal_durable = state.journal_changes > 0
            report = LoadReport(
                len(state.claims),
                self._boot_id,
                previous_boot_id=written_in,
                rebooted=rebooted,
                removed_temp_files=removed,
                journal_changes=state.journal_changes,
                discarded_journal_bytes=state.discarded_bytes,
            )
            return self._finish(state.claims, report)

    def _finish(self, claims: dict[str, CheckpointEntry], report: LoadReport) -> LoadReport:
        self._claims = claims
        self._report = report
        return report

    def _move_aside_all(self) -> Path | None:
        """Move the journal and the snapshot aside (either may be the bad one: the state is their
        sum); returns where the snapshot went, else the journal."""
        moved = [self._move_aside(path) for path in (self._journal, self._path) if path.exists()]
        return moved[-1] if moved else None

    def _move_aside(self, path: Path) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = path.with_name(f"{path.name}.corrupt-{stamp}")
        counter = 1
        while target.exists():
            target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
            counter += 1
        try:
            os.replace(path, target)
            fsync_dir(self._dir)
        except OSError as exc:
            raise CheckpointError(f"moving corrupt checkpoint {path} to {target} failed: {exc}") from exc
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
            self._persist(claims, changes, durable)
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

    def _persist(
        self, claims: dict[str, CheckpointEntry], changes: dict[str, CheckpointEntry | None], durable: bool
    ) -> None:
        """Make ``claims`` (the state after ``changes``) the files' state: one journal append, or a
        compaction (module docstring). Called by the one writer, without the lock."""
        for uid, entry in changes.items():
            if durable and entry is not None:
                self._durable_uids.add(uid)
            else:
                self._durable_uids.discard(uid)
        try:
            try:
                self._write(claims, changes, durable)
            except FileNotFoundError:  # the state dir went away: make it again, write everything
                self._snapshot = False
                self._write(claims, changes, durable)
        except OSError as exc:
            self._compact_next = True  # whatever reached the journal, the next write starts clean
            raise CheckpointError(f"writing checkpoint {self._path} failed: {exc}") from exc

    def _write(
        self, claims: dict[str, CheckpointEntry], changes: dict[str, CheckpointEntry | None], durable: bool
    ) -> None:
        if not self._snapshot and not self._dir.exists():  # it holds the snapshot once written
            self._dir.parent.mkdir(parents=True, exist_ok=True)
            self._dir.mkdir(mode=STATE_DIR_MODE, exist_ok=True)
            os.chmod(self._dir, STATE_DIR_MODE)
        if self._compact_next or not self._snapshot or self._journal_lines + len(changes) > COMPACT_AFTER:
            self._compact(claims, durable)
        else:
            self._append(changes, durable)

    def _compact(self, claims: dict[str, CheckpointEntry], durable: bool) -> None:
        """The whole state as a new snapshot, then an empty journal."""
        durable = durable or self._journal_durable or not self._durable_uids.isdisjoint(claims)
        data = encode_plain({uid: self._plain_of(entry) for uid, entry in claims.items()}, self._boot_id)
        self._compact_next = True  # until the journal is empty again
        atomic_write(self._path, data, FILE_MODE, durable=durable)
        self._snapshot = True
        with contextlib.suppress(FileNotFoundError):  # no journal yet
            os.truncate(self._journal, 0)  # if this is lost, replaying the old lines changes nothing
        self._journal_lines, self._journal_durable, self._compact_next = 0, False, False

    def _append(self, changes: dict[str, CheckpointEntry | None], durable: bool) -> None:
        """One write of one line per change at the journal's end (fsynced if ``durable``)."""
        data = b"".join(
            journal_line(uid, None if entry is None else self._plain_of(entry), self._boot_id)
            for uid, entry in changes.items()
        )
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if durable and not self._dir_synced:
            fsync_dir(self._dir)  # the journal's own directory entry, once
            self._dir_synced = True
        self._journal_lines += len(changes)
        self._journal_durable = self._journal_durable or durable
