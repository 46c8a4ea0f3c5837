"""The per-claim cache directory: created with the documented modes, only under state_dir, removable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dra_driver.interception import (
    InterceptionError,
    InterceptionSettings,
    claim_cache_dir,
    create_claim_cache_dir,
    remove_claim_cache_dir,
)
from tests.interception.cards import CLAIM_UID


def _settings(tmp_path: Path) -> InterceptionSettings:
    return InterceptionSettings(
        host_library_dir=tmp_path / "lib", state_dir=tmp_path / "state", lock_dir=tmp_path / "vgpulock"
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_create_is_idempotent_with_documented_modes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = create_claim_cache_dir(settings, CLAIM_UID)
    assert path == tmp_path / "state" / "claims" / CLAIM_UID
    assert _mode(path) == 0o777
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "claims") == 0o700
    assert _mode(tmp_path / "vgpulock") == 0o1777
    (path / "vgpu.cache").write_text("region")
    assert create_claim_cache_dir(settings, CLAIM_UID) == path
    assert (path / "vgpu.cache").read_text() == "region"


def test_remove(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = create_claim_cache_dir(settings, CLAIM_UID)
    (path / "vgpu.cache").write_text("region")
    assert remove_claim_cache_dir(settings, CLAIM_UID) is True
    assert not path.exists()
    assert remove_claim_cache_dir(settings, CLAIM_UID) is False


@pytest.mark.parametrize("bad_uid", ["../x", "..", "", "a/b"])
def test_non_uuid_is_refused_without_touching_files(tmp_path: Path, bad_uid: str) -> None:
    settings = _settings(tmp_path)
    for call in (claim_cache_dir, create_claim_cache_dir, remove_claim_cache_dir):
        with pytest.raises(InterceptionError, match="not a UUID"):
            call(settings, bad_uid)
    assert list(tmp_path.iterdir()) == []


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    claims = tmp_path / "state" / "claims"
    claims.mkdir(parents=True)
    (claims / CLAIM_UID).symlink_to(outside)
    with pytest.raises(InterceptionError, match="not a directory"):
        create_claim_cache_dir(settings, CLAIM_UID)
    assert remove_claim_cache_dir(settings, CLAIM_UID) is True
    assert (outside / "keep").read_text() == "precious"
    assert not (claims / CLAIM_UID).exists()


def test_parents_removed_behind_the_plugin_are_made_again_with_their_modes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    remove_claim_cache_dir(settings, CLAIM_UID)
    create_claim_cache_dir(settings, CLAIM_UID)
    remove_claim_cache_dir(settings, CLAIM_UID)
    (tmp_path / "state" / "claims").rmdir()
    (tmp_path / "vgpulock").rmdir()
    path = create_claim_cache_dir(settings, CLAIM_UID)
    assert _mode(tmp_path / "state" / "claims") == 0o700
    assert _mode(tmp_path / "vgpulock") == 0o1777
    assert _mode(path) == 0o777
    assert _mode(path / ".unattached") == 0o555


def test_an_existing_claim_dir_gets_the_documented_modes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = create_claim_cache_dir(settings, CLAIM_UID)
    path.chmod(0o700)
    (path / ".unattached").chmod(0o700)
    create_claim_cache_dir(settings, CLAIM_UID)
    assert _mode(path) == 0o777
    assert _mode(path / ".unattached") == 0o555
