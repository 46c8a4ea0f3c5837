"""Fuzz on-disk state: checkpoint bytes load or are reported corrupt (and moved aside), never raise;
HAMi-core shared-region bytes parse or raise ``SharedRegionError`` naming the path."""

# ruff: noqa: PT017 - a fuzzed input may legitimately succeed or fail, so the error is checked in place

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dra_driver.checkpoint.codec import encode
from dra_driver.checkpoint.models import CheckpointEntry, ClaimState
from dra_driver.checkpoint.store import CheckpointStore
from dra_driver.interception.shared_region import (
    HEADER_SIZE,
    MAGIC,
    REGION_SIZE,
    SLOT_SIZE,
    SharedRegionError,
    parse_shared_region,
)
from tests.fuzz.profile import FUZZ

UID = "3f2c1e2a-0b1c-4d5e-8f90-123456789abc"
VALID = encode(
    {UID: CheckpointEntry(uid=UID, namespace="a", name="c", state=ClaimState.PREPARE_COMPLETED)}, "b"
)


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(max_size=8))
    return bytes(data)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), mutated_bytes(VALID)))
def test_checkpoint_bytes_load_or_are_moved_aside(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        (state / "checkpoint.json").write_bytes(raw)
        boot = Path(tmp) / "boot_id"
        boot.write_text("b\n")
        store = CheckpointStore(state, boot_id_path=boot)
        report = store.load()
        if report.corrupt_reason is None:
            assert report.claims == len(store.entries())
            return
        assert report.corrupt_reason.strip()
        assert report.moved_to is not None and report.moved_to.read_bytes() == raw
        assert not store.path.exists()
        assert store.entries() == []


def _region(device_num: int, proc_num: int) -> bytearray:
    data = bytearray(REGION_SIZE)
    struct.pack_into("<iIIiQ", data, 0, MAGIC, 1, 0, 0, 1)
    struct.pack_into("<Q", data, 24 + 32, device_num)
    struct.pack_into("<i", data, HEADER_SIZE + 1024 * SLOT_SIZE, proc_num)
    return data


@FUZZ
@given(
    device_num=st.integers(-1, 20),
    proc_num=st.integers(-2, 1030),
    flips=st.lists(st.tuples(st.integers(0, HEADER_SIZE + 2 * SLOT_SIZE), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, REGION_SIZE)),
)
def test_shared_region_bytes_parse_or_name_the_path(
    device_num: int, proc_num: int, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = _region(max(device_num, 0) if device_num >= 0 else 2**63, proc_num % 2**31)
    for at, value in flips:
        data[at] = value
    path = Path("/fuzz/vgpu.cache")
    try:
        region = parse_shared_region(bytes(data[:cut] if cut is not None else data), path)
    except SharedRegionError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return
    assert 0 <= len(region.devices) <= 16
    assert 0 <= region.processes <= 1024
