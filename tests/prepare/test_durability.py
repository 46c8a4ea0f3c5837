"""What prepare writes and fsyncs (DESIGN §9): a plain claim costs one checkpoint write and no
fsync; a claim with files that outlive a reboot outside hdra's directories (a Hygon vDCU config)
has its record on disk before the file is written; the periodic cleanup finds cache dirs no entry
accounts for; a claim whose JSON has a field of the wrong type is refused naming the field."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from dra_driver.cdi import atomic_write
from dra_driver.checkpoint import CheckpointStore
from dra_driver.prepare import ClaimRef, PrepareError
from dra_driver.prepare import preparer as preparer_module
from dra_driver.prepare.claims import allocated_claim
from dra_driver.prepare.recovery import cleanup_stale
from tests.prepare.conftest import DRIVER, NODE, MakeNode, Node
from tests.prepare.test_vendor_units import claim_on, hygon_node

Events = list[tuple[str, object]]
VALID = {"driver": DRIVER, "request": "gpu", "pool": NODE, "device": "gpu-0"}


def _record(monkeypatch: pytest.MonkeyPatch) -> Events:
    """Every checkpoint write (with its durability), vendor file write and fsync, in order."""
    events: Events = []
    persist = CheckpointStore._persist
    real_fsync = os.fsync

    def recorded_persist(
        self: CheckpointStore, claims: dict[str, object], changes: dict[str, object], durable: bool
    ) -> None:
        events.append(("checkpoint", durable))
        persist(self, claims, changes, durable)  # type: ignore[arg-type]

    def recorded_atomic(path: Path, data: bytes, mode: int, *, durable: bool = True) -> None:
        events.append(("vendor file", path.name))
        atomic_write(path, data, mode, durable=durable)

    def recorded_fsync(fd: int) -> None:
        events.append(("fsync", fd))
        real_fsync(fd)

    monkeypatch.setattr(CheckpointStore, "_persist", recorded_persist)
    monkeypatch.setattr(preparer_module, "atomic_write", recorded_atomic)
    monkeypatch.setattr(os, "fsync", recorded_fsync)
    return events


def test_a_plain_claim_costs_one_checkpoint_write_and_no_fsync(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = claim_on(node, "plain", "gpu-0", "4Gi", "20")
    preparer = node.preparer()
    events = _record(monkeypatch)
    preparer.prepare(claim)
    assert events == [("checkpoint", False)]
    assert node.spec_files() and node.claim_dirs()
    preparer.unprepare(claim)
    assert events == [("checkpoint", False), ("checkpoint", False)]
    assert not node.spec_files() and not node.claim_dirs()


def test_a_hygon_claim_is_on_disk_before_its_vdev_config_is_written(
    make_node: MakeNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = hygon_node(make_node, tmp_path)
    first = claim_on(node, "dcu-a", "dcu-0", "4Gi", "20")
    plain_after = claim_on(node, "dcu-b", "dcu-1", "4Gi", "20")
    preparer = node.preparer()
    events = _record(monkeypatch)
    preparer.prepare(first)
    kinds = [kind for kind, _ in events]
    started, vendor = kinds.index("checkpoint"), kinds.index("vendor file")
    assert events[started] == ("checkpoint", True)
    assert started < vendor
    assert "fsync" in kinds[started:vendor]  # the record reached the disk first
    assert events[-1] == ("checkpoint", True) or ("checkpoint", True) in events[vendor:]
    events.clear()
    preparer.prepare(plain_after)  # every Hygon claim has its own vDCU config: durable too
    assert [e for e in events if e[0] == "checkpoint"] and all(
        durable for kind, durable in events if kind == "checkpoint"
    )


def test_cleanup_removes_cache_dirs_that_no_entry_accounts_for(node: Node) -> None:
    kept = claim_on(node, "kept", "gpu-0", "4Gi", "20")
    preparer = node.preparer()
    preparer.prepare(kept)
    orphan = node.state_dir / "claims" / str(uuid.uuid4())
    orphan.mkdir()
    (orphan / "vgpu.cache").write_text("")
    other = node.state_dir / "claims" / "not-a-claim"
    other.mkdir()
    assert orphan.name in cleanup_stale(preparer)
    assert not orphan.exists() and other.exists()
    assert [p.name for p in node.claim_dirs() if p.name != "not-a-claim"] == [kept.uid]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"status": {"allocation": {"devices": {"results": "x"}}}}, "status.allocation.devices.results"),
        (
            {"status": {"allocation": {"devices": {"results": [{"driver": DRIVER, "pool": 7}]}}}},
            "request is missing",
        ),
        (
            {
                "status": {
                    "allocation": {"devices": {"results": [{"driver": DRIVER, "request": "r", "pool": 7}]}}
                }
            },
            "results[0].pool is a int",
        ),
        ({"status": {"allocation": {"devices": {"results": [VALID], "config": {}}}}}, "devices.config"),
        ({"status": {"allocation": {"devices": {}, "nodeSelector": []}}}, "status.allocation.nodeSelector"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_naming_it(document: dict[str, object], field: str) -> None:
    uid = str(uuid.uuid4())
    claim = ClaimRef(uid, "default", "odd")
    with pytest.raises(PrepareError, match=r"claim .*odd.*" + re.escape(field)):
        allocated_claim(claim, {"metadata": {"uid": uid}, **document}, driver=DRIVER, node_name=NODE)
