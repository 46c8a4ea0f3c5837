"""CheckpointStore: round trip, corruption moved aside with a reason, reboots, threads, crashes mid-write,
the journal (appends, compaction, torn tails, replay after a crash mid-compaction, what is fsynced)."""

from __future__ import annotations

import json
import os
import stat
import threading
import uuid
from pathlib import Path

import pytest

from dra_driver.checkpoint import (
    CheckpointDevice,
    CheckpointEntry,
    CheckpointError,
    CheckpointStore,
    ClaimState,
    claims_checksum,
    read_claims,
)
from dra_driver.checkpoint import store as store_module
from dra_driver.checkpoint.journal import journal_line

BOOT_A = "11111111-aaaa-4bbb-8ccc-dddddddddddd"
BOOT_B = "22222222-aaaa-4bbb-8ccc-dddddddddddd"
UID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def _entry(uid: str = UID, state: ClaimState = ClaimState.PREPARE_COMPLETED) -> CheckpointEntry:
    return CheckpointEntry(
        uid=uid,
        namespace="team-a",
        name=f"claim-{uid[:8]}",
        state=state,
        devices=(
            CheckpointDevice(
                request_names=("gpu",),
                pool_name="node-1",
                device_name="gpu-0",
                cdi_device_ids=(f"hdra.io/mock={uid}-gpu-0",),
                share_id="7d2c9f4e-1111-4222-8333-944455556666",
            ),
        ),
        artifacts=(f"/var/run/cdi/hdra.io-mock_{uid}.json", f"/var/lib/hdra/claims/{uid}"),
    )


@pytest.fixture
def boot_id(tmp_path: Path) -> Path:
    path = tmp_path / "boot_id"
    path.write_text(BOOT_A + "\n")
    return path


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _store(state_dir: Path, boot_id: Path) -> CheckpointStore:
    return CheckpointStore(state_dir, boot_id_path=boot_id)


def test_missing_file_loads_empty(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    report = store.load()
    assert report.claims == 0
    assert report.corrupt_reason is None
    assert not report.rebooted
    assert store.entries() == []
    assert not state_dir.exists()  # nothing is created until something is recorded


def test_round_trip_and_file_modes(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.load()
    started = _entry(state=ClaimState.PREPARE_STARTED)
    store.put(started)
    store.put(_entry())
    other = _entry(str(uuid.uuid4()))
    store.put(other)
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.journal_path.stat().st_mode) == 0o600
    assert sorted(os.listdir(state_dir)) == ["checkpoint.journal", "checkpoint.json"]

    reloaded = _store(state_dir, boot_id)
    report = reloaded.load()
    assert report.claims == 2
    assert report.previous_boot_id == BOOT_A
    assert not report.rebooted
    assert reloaded.get(UID) == _entry()
    assert reloaded.entries() == sorted([_entry(), other], key=lambda entry: entry.uid)

    assert reloaded.remove(UID) is True
    assert reloaded.remove(UID) is False
    again = _store(state_dir, boot_id)
    again.load()
    assert again.entries() == [other]
    document = json.loads(store.path.read_text())
    assert document["version"] == 1
    assert document["checksum"] == claims_checksum(document["claims"])


def _corrupt_cases() -> list[tuple[str, str]]:
    good = {"version": 1, "boot_id": BOOT_A, "checksum": "", "claims": {}}
    bad_schema_claims = {UID: {"uid": UID, "namespace": "a", "name": "b", "state": "Exploded"}}
    wrong_key_claims = {str(uuid.uuid4()): _entry().model_dump(mode="json")}
    return [
        ("{not json", "bad JSON"),
        ("[1, 2]", "bad JSON: top level is a list"),
        (json.dumps({**good, "version": 2, "checksum": claims_checksum({})}), "unsupported version 2"),
        (json.dumps({**good, "checksum": "sha256:0000"}), "checksum mismatch"),
        (
            json.dumps({**good, "claims": bad_schema_claims, "checksum": claims_checksum(bad_schema_claims)}),
            "schema error",
        ),
        (
            json.dumps({**good, "claims": wrong_key_claims, "checksum": claims_checksum(wrong_key_claims)}),
            "schema error",
        ),
        (
            json.dumps({**good, "claims": [], "checksum": claims_checksum({})}),
            "schema error: 'claims' is list",
        ),
    ]


@pytest.mark.parametrize(("content", "reason"), _corrupt_cases())
def test_corrupt_files_are_moved_aside_with_a_reason(
    state_dir: Path, boot_id: Path, content: str, reason: str
) -> None:
    state_dir.mkdir()
    path = state_dir / "checkpoint.json"
    path.write_text(content)
    store = _store(state_dir, boot_id)
    report = store.load()
    assert report.corrupt_reason is not None
    assert report.corrupt_reason.startswith(reason)
    assert report.moved_to is not None
    assert report.moved_to.parent == state_dir
    assert report.moved_to.name.startswith("checkpoint.json.corrupt-")
    assert report.moved_to.read_text() == content
    assert not path.exists()
    assert store.entries() == []
    store.put(_entry())  # and the store works on from empty
    assert _store(state_dir, boot_id).get(UID) == _entry()


def test_tampered_entry_is_caught_by_the_checksum(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    document = json.loads(store.path.read_text())
    document["claims"][UID]["namespace"] = "team-b"
    store.path.write_text(json.dumps(document))
    report = _store(state_dir, boot_id).load()
    assert report.corrupt_reason is not None
    assert report.corrupt_reason.startswith("checksum mismatch")


def test_two_corruptions_in_one_second_keep_both_files(state_dir: Path, boot_id: Path) -> None:
    state_dir.mkdir()
    moved = set()
    for content in ("{bad one", "{bad two"):
        (state_dir / "checkpoint.json").write_text(content)
        report = _store(state_dir, boot_id).load()
        assert report.moved_to is not None
        moved.add(report.moved_to)
    assert len(moved) == 2
    assert {path.read_text() for path in moved} == {"{bad one", "{bad two"}


def test_boot_id_change_is_reported_and_entries_kept(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    boot_id.write_text(BOOT_B + "\n")
    after_reboot = _store(state_dir, boot_id)
    report = after_reboot.load()
    assert report.rebooted
    assert report.previous_boot_id == BOOT_A
    assert report.boot_id == BOOT_B
    assert after_reboot.get(UID) == _entry()
    after_reboot.put(_entry(str(uuid.uuid4())))  # the next write records the new boot
    assert not _store(state_dir, boot_id).load().rebooted


def test_unreadable_boot_id_never_reports_a_reboot(state_dir: Path, boot_id: Path, tmp_path: Path) -> None:
    _store(state_dir, boot_id).put(_entry())
    report = CheckpointStore(state_dir, boot_id_path=tmp_path / "no-such-file").load()
    assert not report.rebooted
    assert report.claims == 1


def test_concurrent_puts_from_threads_all_land(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.load()
    uids = [str(uuid.uuid4()) for _ in range(40)]
    errors: list[BaseException] = []

    def worker(chunk: list[str]) -> None:
        try:
            for claim_uid in chunk:
                store.put(_entry(claim_uid, ClaimState.PREPARE_STARTED))
                store.put(_entry(claim_uid))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(uids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reloaded = _store(state_dir, boot_id)
    assert reloaded.load().claims == 40
    assert {entry.uid for entry in reloaded.entries()} == set(uids)
    assert all(entry.state is ClaimState.PREPARE_COMPLETED for entry in reloaded.entries())
    assert sorted(os.listdir(state_dir)) == ["checkpoint.journal", "checkpoint.json"]


def test_crash_between_temp_write_and_rename_keeps_previous_checkpoint(
    state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    before = store.path.read_bytes()
    monkeypatch.setattr(store_module, "COMPACT_AFTER", 0)  # every write rewrites the snapshot

    # A crash after the temp file is complete but before the rename: the temp file stays behind.
    (state_dir / ".checkpoint.json.k3x9.tmp").write_text('{"half": ')

    def crash(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(CheckpointError, match=r"writing checkpoint .*checkpoint\.json failed"):
            store.put(_entry(str(uuid.uuid4())))
    assert store.path.read_bytes() == before
    assert store.entries() == [_entry()]  # memory did not move ahead of the disk

    restarted = _store(state_dir, boot_id)
    report = restarted.load()
    assert report.corrupt_reason is None
    assert report.claims == 1
    assert [path.name for path in report.removed_temp_files] == [".checkpoint.json.k3x9.tmp"]
    assert restarted.entries() == [_entry()]
    assert os.listdir(state_dir) == ["checkpoint.json"]


def test_entries_validate_uid_and_artifacts() -> None:
    with pytest.raises(ValueError, match="not a UUID"):
        CheckpointEntry(uid="../x", namespace="a", name="b", state=ClaimState.PREPARE_STARTED)
    with pytest.raises(ValueError, match="artifact path 'relative/file' is not absolute"):
        CheckpointEntry(
            uid=UID, namespace="a", name="b", state=ClaimState.PREPARE_STARTED, artifacts=("relative/file",)
        )


def test_first_use_loads_implicitly(state_dir: Path, boot_id: Path) -> None:
    _store(state_dir, boot_id).put(_entry())
    store = _store(state_dir, boot_id)
    assert store.get(UID) == _entry()
    assert store.last_report is not None
    assert store.last_report.claims == 1


def test_changes_queued_during_a_write_share_the_next_write(
    state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: while one write is held up, nine other claims queue; all nine land in one
    more write, each caller returns only once its change is in the file, and a durable request
    makes the shared write durable."""
    store = _store(state_dir, boot_id)
    store.load()
    writes: list[tuple[int, bool]] = []
    release = threading.Event()
    persist = CheckpointStore._persist

    def held(
        self: CheckpointStore,
        claims: dict[str, CheckpointEntry],
        changes: dict[str, CheckpointEntry | None],
        durable: bool,
    ) -> None:
        writes.append((len(claims), durable))
        if len(writes) == 1:
            release.wait(10)
        persist(self, claims, changes, durable)

    monkeypatch.setattr(CheckpointStore, "_persist", held)
    uids = [str(uuid.uuid4()) for _ in range(10)]
    first = threading.Thread(target=store.put, args=(_entry(uids[0]),), kwargs={"durable": False})
    first.start()
    while not writes:
        threading.Event().wait(0.001)
    others = [
        threading.Thread(target=store.put, args=(_entry(uid),), kwargs={"durable": uid == uids[5]})
        for uid in uids[1:]
    ]
    for thread in others:
        thread.start()
    while len(store._pending) < 9:  # every other put is queued behind the held write
        threading.Event().wait(0.001)
    assert store.get(uids[1]) is None  # queued, not written: not visible yet
    release.set()
    for thread in [first, *others]:
        thread.join()
    assert writes == [(1, False), (10, True)]
    assert {entry.uid for entry in _store(state_dir, boot_id).entries()} == set(uids)


def test_a_failed_shared_write_fails_every_caller_in_it(
    state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(state_dir, boot_id)
    store.load()

    def broken(
        self: CheckpointStore,
        claims: dict[str, CheckpointEntry],
        changes: dict[str, CheckpointEntry | None],
        durable: bool,
    ) -> None:
        raise CheckpointError(f"writing checkpoint {state_dir} failed: disk full")

    monkeypatch.setattr(CheckpointStore, "_persist", broken)
    with pytest.raises(CheckpointError, match="disk full"):
        store.put(_entry())
    assert store.get(UID) is None


def _fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def recorded(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", recorded)
    return calls


def test_changes_after_the_first_write_are_appended_not_rewritten(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    snapshot = store.path.read_bytes()
    others = [_entry(str(uuid.uuid4())) for _ in range(3)]
    for other in others:
        store.put(other)
    store.remove(UID)
    assert store.path.read_bytes() == snapshot  # the snapshot was not touched
    assert len(store.journal_path.read_bytes().splitlines()) == 4
    expected = {entry.uid: entry for entry in others}
    assert read_claims(state_dir) == expected
    reloaded = _store(state_dir, boot_id)
    report = reloaded.load()
    assert (report.claims, report.journal_changes, report.discarded_journal_bytes) == (3, 4, 0)
    assert {entry.uid: entry for entry in reloaded.entries()} == expected


def test_the_journal_is_compacted_into_the_snapshot(
    state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "COMPACT_AFTER", 3)
    store = _store(state_dir, boot_id)
    uids = [str(uuid.uuid4()) for _ in range(5)]
    for claim_uid in uids:
        store.put(_entry(claim_uid))
    # first put: snapshot; puts 2-4: three journal lines; put 5 would make four: compaction
    assert store.journal_path.read_bytes() == b""
    assert sorted(json.loads(store.path.read_text())["claims"]) == sorted(uids)
    assert {entry.uid for entry in _store(state_dir, boot_id).entries()} == set(uids)


def test_a_crash_between_compaction_and_truncation_replays_to_the_same_state(
    state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal lines survive next to the snapshot that already holds them (the truncation was
    lost): replaying them gives the same entries, removals included."""
    store = _store(state_dir, boot_id)
    kept, gone = _entry(), _entry(str(uuid.uuid4()))
    store.put(_entry(state=ClaimState.PREPARE_STARTED))
    store.put(gone)
    store.put(kept)
    store.remove(gone.uid)
    stale_journal = store.journal_path.read_bytes()
    monkeypatch.setattr(store_module, "COMPACT_AFTER", 0)
    late = _entry(str(uuid.uuid4()))
    store.put(late)
    assert store.journal_path.read_bytes() == b""
    store.journal_path.write_bytes(stale_journal)
    restarted = _store(state_dir, boot_id)
    assert restarted.load().corrupt_reason is None
    assert restarted.entries() == sorted([kept, late], key=lambda entry: entry.uid)


@pytest.mark.parametrize("tail", [b"sha256:", b"sha256:" + b"0" * 64 + b' {"boot_id":"x"}\n', b"\x00" * 40])
def test_a_torn_journal_tail_is_discarded_and_the_next_write_compacts(
    state_dir: Path, boot_id: Path, tail: bytes
) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    second = _entry(str(uuid.uuid4()))
    store.put(second)
    with store.journal_path.open("ab") as journal:  # a killed write: its caller never returned
        journal.write(tail)
    restarted = _store(state_dir, boot_id)
    report = restarted.load()
    assert report.corrupt_reason is None
    assert report.discarded_journal_bytes == len(tail)
    assert {entry.uid for entry in restarted.entries()} == {UID, second.uid}
    third = _entry(str(uuid.uuid4()))
    restarted.put(third)  # never appended behind the torn bytes
    assert restarted.journal_path.read_bytes() == b""
    assert {entry.uid for entry in _store(state_dir, boot_id).entries()} == {UID, second.uid, third.uid}


def test_a_journal_line_with_a_good_checksum_and_a_bad_change_is_corruption(
    state_dir: Path, boot_id: Path
) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    bad = {**_entry().model_dump(mode="json"), "state": "Exploded"}
    with store.journal_path.open("ab") as journal:
        journal.write(journal_line(UID, bad, BOOT_A))
    with pytest.raises(CheckpointError, match=r"corrupt: schema error: journal line 1"):
        read_claims(state_dir)
    report = _store(state_dir, boot_id).load()
    assert report.corrupt_reason is not None and report.corrupt_reason.startswith(
        "schema error: journal line 1"
    )
    assert sorted(p.name.split(".corrupt-")[0] for p in state_dir.iterdir()) == [
        "checkpoint.journal",
        "checkpoint.json",
    ]
    assert not store.path.exists() and not store.journal_path.exists()


def test_the_boot_of_the_last_change_decides_a_reboot(state_dir: Path, boot_id: Path) -> None:
    _store(state_dir, boot_id).put(_entry())
    boot_id.write_text(BOOT_B + "\n")
    second_boot = _store(state_dir, boot_id)
    assert second_boot.load().rebooted
    second_boot.remove(UID)  # an append written in boot B
    report = _store(state_dir, boot_id).load()
    assert not report.rebooted and report.previous_boot_id == BOOT_B


def test_what_a_journal_write_fsyncs(state_dir: Path, boot_id: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain append is not fsynced; a durable one fsyncs the journal, and the directory once; a
    compaction while a durably written entry is live is fsynced even when its batch is not."""
    store = _store(state_dir, boot_id)
    store.put(_entry(), durable=False)  # the first write: a snapshot
    fsyncs = _fsyncs(monkeypatch)
    store.put(_entry(str(uuid.uuid4())), durable=False)
    assert fsyncs == []
    store.put(_entry(str(uuid.uuid4())), durable=True)
    assert len(fsyncs) == 2  # the journal, then the state dir for the journal's entry
    store.put(_entry(str(uuid.uuid4())), durable=True)
    assert len(fsyncs) == 3  # the directory only once
    monkeypatch.setattr(store_module, "COMPACT_AFTER", 0)
    fsyncs.clear()
    store.put(_entry(str(uuid.uuid4())), durable=False)
    assert len(fsyncs) == 2  # a durable entry is live: the snapshot and its directory


def test_a_state_dir_removed_behind_the_store_is_made_again(state_dir: Path, boot_id: Path) -> None:
    store = _store(state_dir, boot_id)
    store.put(_entry())
    store.put(_entry(str(uuid.uuid4())))
    for path in state_dir.iterdir():
        path.unlink()
    state_dir.rmdir()
    late = _entry(str(uuid.uuid4()))
    store.put(late)  # everything in memory is written again, as a snapshot
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert {entry.uid for entry in _store(state_dir, boot_id).entries()} == {
        entry.uid for entry in store.entries()
    }
    assert len(store.entries()) == 3
