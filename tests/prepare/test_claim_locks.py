"""One lock per claim inside prepare (issue 16 item 3): gRPC calls, start-up recovery and the
periodic cleanup are serialised per claim; rollback removes exactly what the checkpoint recorded."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from dra_driver.cdi import CdiWriter
from dra_driver.checkpoint import CheckpointStore, ClaimState
from dra_driver.interception import InterceptionSettings
from dra_driver.prepare import (
    ClaimRef,
    DeviceCatalog,
    NodePreparer,
    PrepareError,
    cleanup_stale,
    recover_at_start,
)
from dra_driver.prepare.locks import ClaimLocks
from dra_driver.slices import SharingMode
from tests.prepare.conftest import MakeNode, Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


def _claim(node: Node, name: str, device: str = "gpu-0") -> ClaimRef:
    consumed = {"memory": "1Gi", "cores": "10", "shares": "1"}
    created = create_allocated_claim(
        node.kube, ClaimSpec(name, [Result(device, consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    assert created.metadata is not None and created.metadata.uid is not None
    return ClaimRef(created.metadata.uid, "default", name)


def test_one_claim_is_never_held_twice_and_its_lock_is_dropped() -> None:
    locks = ClaimLocks()
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with locks.hold("uid-a"):
            order.append("first in")
            entered.set()
            release.wait(10)
            order.append("first out")

    def second() -> None:
        with locks.hold("uid-a"):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert entered.wait(10)
    threads[1].start()
    _wait_until(lambda: locks.users("uid-a") == 2, "the second call to wait for the claim lock")
    with locks.hold("uid-b"):  # another claim is not blocked
        pass
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert locks.users("uid-a") == 0 and len(locks) == 0


class _PrepareDuringListing(CdiWriter):
    """A CDI writer that runs ``during`` (on another thread, waiting for it) while the cleanup lists
    the CDI dir: the moment between its listing of the checkpoint and of the specs."""

    during: Callable[[], None] | None = None

    def claim_uids(self, kind: str) -> set[str]:
        if self.during is not None:
            action, self.during = self.during, None
            worker = threading.Thread(target=action)
            worker.start()
            worker.join(30)
            assert not worker.is_alive(), "the prepare during the cleanup hung"
        return super().claim_uids(kind)


def test_a_prepare_landing_during_cleanup_keeps_its_spec(node: Node) -> None:
    """The cleanup race of issue 16: the cleanup listed the checkpoint (claim unknown), a prepare
    finished, then the cleanup listed the CDI dir and took the new spec for an orphan."""
    writer = _PrepareDuringListing(node.cdi_dir)
    preparer = NodePreparer(
        node.kube,
        node.settings,
        catalog=lambda: DeviceCatalog.from_slices(node.devices, node.publisher.published_slices),
        cdi=writer,
        checkpoint=CheckpointStore(node.state_dir, boot_id_path=node.boot_id),
    )
    claim = _claim(node, "late")
    prepared: list[object] = []
    writer.during = lambda: prepared.append(preparer.prepare(claim))
    assert cleanup_stale(preparer) == []
    assert prepared, "the prepare did not run"
    assert [p.name for p in node.spec_files()] == [
        preparer.cdi.spec_path(claim.uid, preparer.settings.cdi_kind).name
    ]
    entry = preparer.checkpoint.get(claim.uid)
    assert entry is not None and entry.state is ClaimState.PREPARE_COMPLETED


def test_cleanup_still_removes_a_real_orphan(node: Node) -> None:
    preparer = node.preparer()
    claim = _claim(node, "orphan")
    preparer.prepare(claim)
    preparer.checkpoint.remove(claim.uid)  # a spec no checkpoint entry accounts for
    assert cleanup_stale(preparer) == [claim.uid]
    assert node.spec_files() == []


def test_rollback_removes_the_recorded_artifacts_after_the_dirs_changed(node: Node, tmp_path: Path) -> None:
    """A claim prepared with one --cdi-dir/--state-dir is rolled back by a plugin started with other
    ones: its files are found where the checkpoint says, not where today's settings would put them."""
    claim = _claim(node, "moved")
    node.preparer().prepare(claim)
    (spec,) = node.spec_files()
    (cache,) = node.claim_dirs()
    store = CheckpointStore(node.state_dir, boot_id_path=node.boot_id)
    store.load()
    entry = store.get(claim.uid)
    assert entry is not None
    store.put(entry.model_copy(update={"state": ClaimState.PREPARE_STARTED}))  # cut short

    elsewhere = dataclasses.replace(
        node.settings,
        interception=InterceptionSettings(
            host_library_dir=tmp_path / "lib2",
            state_dir=tmp_path / "state2",
            lock_dir=tmp_path / "vgpulock",
            visibility="env",
        ),
    )
    restarted = NodePreparer(
        node.kube,
        elsewhere,
        catalog=lambda: DeviceCatalog.from_slices(node.devices, node.publisher.published_slices),
        cdi=CdiWriter(tmp_path / "cdi2"),
        checkpoint=CheckpointStore(node.state_dir, boot_id_path=node.boot_id),
    )
    report = recover_at_start(restarted)
    assert report.rolled_back == [claim.uid], report.problems
    assert not spec.exists() and not cache.exists()
    assert restarted.checkpoint.entries() == []


def test_a_recorded_artifact_not_named_after_the_claim_is_refused(node: Node, tmp_path: Path) -> None:
    claim = _claim(node, "tampered")
    preparer = node.preparer()
    preparer.prepare(claim)
    bystander = tmp_path / "bystander.txt"
    bystander.write_text("keep me")
    entry = preparer.checkpoint.get(claim.uid)
    assert entry is not None
    preparer.checkpoint.put(entry.model_copy(update={"artifacts": (*entry.artifacts, str(bystander))}))
    with pytest.raises(PrepareError, match="not named after the claim"):
        preparer.unprepare(claim)
    assert bystander.read_text() == "keep me"


def test_start_up_removes_temp_files_a_killed_write_left(node: Node) -> None:
    """Issue 18 item 12: SIGKILL during a CDI spec write leaves ``.<spec>.json.<rand>.tmp`` forever."""
    node.cdi_dir.mkdir(parents=True, exist_ok=True)
    uid = str(uuid.uuid4())
    preparer = node.preparer()
    spec_name = preparer.cdi.spec_path(uid, preparer.settings.cdi_kind).name
    left = node.cdi_dir / f".{spec_name}.k3j9x2.tmp"
    left.write_text("{")
    foreign = node.cdi_dir / ".other-vendor.json.abc.tmp"  # not ours: stays
    foreign.write_text("{")
    report = recover_at_start(preparer)
    assert report.removed_temp_files == [str(left)]
    assert not left.exists() and foreign.exists()


def test_cleanup_and_unprepare_of_one_claim_take_the_same_lock(make_node: MakeNode) -> None:
    node = make_node(SharingMode.CAPACITY)
    preparer = node.preparer()
    claim = _claim(node, "locked")
    preparer.prepare(claim)
    node.kube.resource_claims.delete("default", "locked")
    with preparer.locks.hold(claim.uid):
        worker = threading.Thread(target=cleanup_stale, args=(preparer,))
        worker.start()
        _wait_until(lambda: preparer.locks.users(claim.uid) == 2, "the cleanup to wait for the claim lock")
        assert node.spec_files(), "the cleanup removed the spec while the claim was locked"
    worker.join(10)
    assert node.spec_files() == []
