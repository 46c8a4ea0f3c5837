"""No file path is built from an unvalidated claim UID, and state files get the least permissions:
checkpoint 0600 in a 0700 state dir, CDI specs 0644 and only in the CDI dir. (The webhook's TLS 1.2+
floor is tested in tests/webhook/test_server.py.)"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dra_driver.cdi.errors import CdiError
from dra_driver.cdi.writer import CdiWriter
from dra_driver.checkpoint.models import CheckpointEntry, ClaimState
from dra_driver.checkpoint.store import CheckpointStore
from dra_driver.interception.cache_dir import claim_cache_dir, create_claim_cache_dir
from dra_driver.interception.settings import InterceptionError, InterceptionSettings

UID = "3f2c1e2a-0b1c-4d5e-8f90-123456789abc"
BAD_UIDS = [
    "../x",
    "a/b",
    "/etc/passwd",
    "..",
    "",
    "3F2C1E2A-0B1C-4D5E-8F90-123456789ABC",
    "not-a-uuid",
    UID + "/..",
]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def test_checkpoint_is_0600_in_a_0700_state_dir(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state", boot_id_path=tmp_path / "none")
    store.put(CheckpointEntry(uid=UID, namespace="a", name="c", state=ClaimState.PREPARE_COMPLETED))
    assert _mode(store.path) == 0o600
    assert _mode(store.path.parent) == 0o700


@pytest.mark.parametrize("uid", BAD_UIDS)
def test_a_checkpoint_entry_refuses_a_non_uuid(uid: str) -> None:
    with pytest.raises(ValueError, match=r"UUID|uid"):
        CheckpointEntry(uid=uid, namespace="a", name="c", state=ClaimState.PREPARE_STARTED)


@pytest.mark.parametrize("uid", BAD_UIDS)
def test_cdi_writer_refuses_a_non_uuid_and_creates_nothing(tmp_path: Path, uid: str) -> None:
    cdi = tmp_path / "cdi"
    writer = CdiWriter(cdi)
    before = _tree(tmp_path)
    with pytest.raises(CdiError, match="not a UUID"):
        writer.spec_path(uid, "mock.hdra.io/gpu")
    with pytest.raises(CdiError, match="not a UUID"):
        writer.remove_claim_spec(uid, "mock.hdra.io/gpu")
    assert _tree(tmp_path) == before


def test_cdi_spec_paths_stay_in_the_cdi_dir(tmp_path: Path) -> None:
    writer = CdiWriter(tmp_path / "cdi")
    path = writer.spec_path(UID, "mock.hdra.io/gpu")
    assert path.parent == tmp_path / "cdi"
    assert UID in path.name


@pytest.mark.parametrize("uid", BAD_UIDS)
def test_cache_dirs_refuse_a_non_uuid_and_create_nothing(tmp_path: Path, uid: str) -> None:
    settings = InterceptionSettings(state_dir=tmp_path / "state", lock_dir=tmp_path / "lock")
    before = _tree(tmp_path)
    with pytest.raises(InterceptionError, match="not a UUID"):
        claim_cache_dir(settings, uid)
    with pytest.raises(InterceptionError, match="not a UUID"):
        create_claim_cache_dir(settings, uid)
    assert _tree(tmp_path) == before


def test_a_cache_dir_is_inside_the_claims_dir(tmp_path: Path) -> None:
    settings = InterceptionSettings(state_dir=tmp_path / "state", lock_dir=tmp_path / "lock")
    assert claim_cache_dir(settings, UID).parent == settings.claims_dir
