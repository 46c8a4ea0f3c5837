"""CdiWriter: atomic per-claim spec files, only inside the CDI dir, listable to rebuild state."""

from __future__ import annotations

import itertools
import os
import stat
import uuid
from pathlib import Path

import pytest

from dra_driver.cdi import CdiDevice, CdiError, CdiSpec, CdiWriter, ContainerEdits, build_spec, device_name
from dra_driver.cdi import atomic as atomic_module

KIND = "hdra.io/mock"
UID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def _spec(claim_uid: str = UID, value: str = "1") -> CdiSpec:
    edits = ContainerEdits(env=(f"HDRA_TEST={value}",))
    return build_spec(KIND, [CdiDevice(name=device_name(claim_uid, "gpu-0"), container_edits=edits)])


def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_write_read_remove_round_trip(tmp_path: Path) -> None:
    cdi_dir = tmp_path / "run" / "cdi"
    writer = CdiWriter(cdi_dir)
    path = writer.write_claim_spec(UID, _spec())
    assert path == cdi_dir / f"hdra.io-mock_{UID}.json"
    assert _listing(cdi_dir) == [path.name]  # no temp file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert writer.read_claim_spec(UID, KIND) == _spec()
    assert writer.remove_claim_spec(UID, KIND) is True
    assert writer.remove_claim_spec(UID, KIND) is False
    assert writer.read_claim_spec(UID, KIND) is None
    assert _listing(cdi_dir) == []


def test_rewrite_replaces_the_file(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path)
    writer.write_claim_spec(UID, _spec(value="old"))
    writer.write_claim_spec(UID, _spec(value="new"))
    spec = writer.read_claim_spec(UID, KIND)
    assert spec is not None
    assert spec.devices[0].container_edits.env == ("HDRA_TEST=new",)
    assert _listing(tmp_path) == [f"hdra.io-mock_{UID}.json"]


def test_failed_rename_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = CdiWriter(tmp_path)
    path = writer.write_claim_spec(UID, _spec(value="old"))
    before = path.read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(CdiError, match=rf"writing CDI spec {path} .*No space left"):
        writer.write_claim_spec(UID, _spec(value="new"))
    assert path.read_bytes() == before
    assert _listing(tmp_path) == [path.name]


def test_failed_serialisation_touches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = CdiWriter(tmp_path)
    path = writer.write_claim_spec(UID, _spec(value="old"))
    before = path.read_bytes()

    def failing_to_json(self: CdiSpec) -> str:
        raise RuntimeError("serialisation failed")

    monkeypatch.setattr(CdiSpec, "to_json", failing_to_json)
    with pytest.raises(RuntimeError, match="serialisation failed"):
        writer.write_claim_spec(UID, _spec(value="new"))
    assert path.read_bytes() == before
    assert _listing(tmp_path) == [path.name]


@pytest.mark.parametrize("bad_uid", ["../x", "../../etc/passwd", "x/../y", "", UID.upper()])
def test_non_uuid_claims_never_reach_the_file_system(tmp_path: Path, bad_uid: str) -> None:
    cdi_dir = tmp_path / "cdi"
    writer = CdiWriter(cdi_dir)
    with pytest.raises(CdiError, match="not a UUID"):
        writer.write_claim_spec(bad_uid, _spec())
    with pytest.raises(CdiError, match="not a UUID"):
        writer.remove_claim_spec(bad_uid, KIND)
    with pytest.raises(CdiError, match="not a UUID"):
        writer.read_claim_spec(bad_uid, KIND)
    assert _listing(tmp_path) == []


def test_relative_cdi_dir_is_refused() -> None:
    with pytest.raises(CdiError, match="not an absolute path"):
        CdiWriter(Path("run/cdi"))


def test_outdated_version_is_refused_before_writing(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path)
    bad = _spec().model_copy(update={"cdi_version": "0.3.0"})  # the digit-first name needs 0.5.0
    with pytest.raises(CdiError, match=r"need 0\.5\.0"):
        writer.write_claim_spec(UID, bad)
    assert _listing(tmp_path) == []


def test_claim_uids_rebuilds_state_from_the_directory(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path)
    uids = {str(uuid.uuid4()) for _ in range(3)}
    for claim_uid in uids:
        writer.write_claim_spec(claim_uid, _spec(claim_uid))
    other = build_spec(
        "hdra.io/nvidia",
        [CdiDevice(name=device_name(UID, "gpu-0"), container_edits=ContainerEdits(env=("A=1",)))],
    )
    writer.write_claim_spec(UID, other)
    # Files that are not ours (other vendors, temp files, names without a UUID) are ignored.
    (tmp_path / "nvidia.com-gpu.json").write_text("{}")
    (tmp_path / "hdra.io-mock_not-a-uid.json").write_text("{}")
    (tmp_path / f".hdra.io-mock_{UID}.json.abc.tmp").write_text("partial")
    assert writer.claim_uids(KIND) == uids
    assert writer.claim_uids("hdra.io/nvidia") == {UID}
    assert CdiWriter(tmp_path / "missing").claim_uids(KIND) == set()


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path)
    stale = tmp_path / f".hdra.io-mock_{UID}.json.x1y2.tmp"
    stale.write_text("partial")
    foreign = tmp_path / ".nvidia.com-gpu.json.x.tmp"
    foreign.write_text("not ours")
    assert writer.remove_stale_temp_files(KIND) == [stale]
    assert not stale.exists()
    assert foreign.exists()


def test_unreadable_spec_names_the_file(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path)
    path = writer.spec_path(UID, KIND)
    path.write_text("{not json")
    with pytest.raises(CdiError, match=rf"CDI spec {path} is not a valid spec"):
        writer.read_claim_spec(UID, KIND)


def test_a_cdi_dir_removed_behind_the_writer_is_made_again(tmp_path: Path) -> None:
    cdi_dir = tmp_path / "cdi"
    writer = CdiWriter(cdi_dir)
    writer.write_claim_spec(UID, _spec())
    for name in os.listdir(cdi_dir):
        (cdi_dir / name).unlink()
    cdi_dir.rmdir()
    path = writer.write_claim_spec(UID, _spec(value="again"))
    assert _listing(cdi_dir) == [path.name]
    assert stat.S_IMODE(cdi_dir.stat().st_mode) == 0o755


def test_a_temp_name_left_by_a_dead_process_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """atomic_write's O_EXCL temp name (pid and a counter) taken by a file a crashed process of the
    same pid left: the write takes a random name instead and the leftover is untouched."""
    monkeypatch.setattr(atomic_module, "_serial", itertools.count(7))
    writer = CdiWriter(tmp_path)
    leftover = tmp_path / f".hdra.io-mock_{UID}.json.{os.getpid()}-7.tmp"
    leftover.write_text("half")
    path = writer.write_claim_spec(UID, _spec())
    assert writer.read_claim_spec(UID, KIND) == _spec()
    assert _listing(tmp_path) == sorted([leftover.name, path.name])
    assert leftover.read_text() == "half"
