"""Recovery: make the node's prepared state true again after a crash, a reboot or a lost checkpoint.

Owns three procedures, all idempotent:

- ``recover_at_start``: remove the temp files a crash in the middle of an atomic write left in the
  CDI dir; load the checkpoint; roll back claims left ``PrepareStarted`` (a prepare
  was cut short); after a reboot roll back everything (the containers are gone, the kubelet will
  prepare again); after a corrupt checkpoint (already moved aside by the store) rebuild the state
  from the CDI dir and the API — claims that still exist and are allocated here are prepared
  again, the files of all others are removed.
- ``cleanup_stale``: unprepare claims the checkpoint knows but the API no longer has (deleted, or
  re-created with another UID), and remove files no checkpoint entry accounts for: CDI specs and
  claim cache dirs named after a claim the checkpoint does not know (the checkpoint writes that
  record them are not fsynced, so after a power loss these may outlive their records, DESIGN §9).

Both go through the preparer's public methods, which hold the claim's lock: a prepare that lands
while the cleanup runs is never undone, because a spec file counts as orphaned only if the
checkpoint still does not know its claim once the claim's lock is held (``remove_orphan``).
It must never raise for one bad claim: each problem is logged and reported, and the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dra_driver.cdi import CdiError
from dra_driver.checkpoint import ClaimState, LoadReport
from dra_driver.interception import cached_claim_uids
from dra_driver.kube import KubeError, NotFound
from dra_driver.prepare.api import ClaimRef, PrepareError
from dra_driver.prepare.preparer import NodePreparer

log = logging.getLogger("hdra.prepare")


@dataclass
class RecoveryReport:
    """What start-up recovery found and did; ``corrupt_reason`` set means a Warning Event is due."""

    load: LoadReport
    removed_temp_files: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    reprepared: list[str] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def corrupt_reason(self) -> str | None:
        return self.load.corrupt_reason


def recover_at_start(preparer: NodePreparer) -> RecoveryReport:
    load = preparer.checkpoint.load()
    report = RecoveryReport(load=load)
    try:
        temp = preparer.cdi.remove_stale_temp_files(preparer.settings.cdi_kind)
    except (CdiError, OSError) as exc:
        report.problems.append(f"cannot remove stale temp files from the CDI dir: {exc}")
    else:
        report.removed_temp_files = [str(path) for path in temp]
        for path in temp:
            log.info("removed %s, left by a write cut short", path)
    for entry in preparer.checkpoint.entries():
        if load.rebooted or entry.state is ClaimState.PREPARE_STARTED:
            _roll_back(preparer, ClaimRef(entry.uid, entry.namespace, entry.name), report)
    if load.corrupt_reason is not None:
        log.warning(
            "checkpoint was corrupt (%s), moved to %s; rebuilding from the CDI dir",
            load.corrupt_reason,
            load.moved_to,
        )
        _rebuild(preparer, report)
    return report


def cleanup_stale(preparer: NodePreparer) -> list[str]:
    """Unprepare claims that no longer exist in the API; returns their UIDs."""
    removed: list[str] = []
    for entry in preparer.checkpoint.entries():
        claim = ClaimRef(entry.uid, entry.namespace, entry.name)
        try:
            current = preparer.client.resource_claims.get_json(entry.namespace, entry.name)
        except NotFound:
            current = {}
        except KubeError as exc:
            log.info("cleanup: cannot check claim %s now, will retry: %s", claim, exc)
            continue
        metadata = current.get("metadata")
        current_uid = metadata.get("uid") if isinstance(metadata, dict) else None
        if current_uid == entry.uid:
            continue
        try:
            preparer.unprepare(claim)
        except PrepareError as exc:
            log.warning("cleanup: unprepare of stale claim %s failed: %s", claim, exc)
            continue
        log.info("cleanup: unprepared claim %s, which no longer exists in the API", claim)
        removed.append(entry.uid)
    known = {entry.uid for entry in preparer.checkpoint.entries()}
    on_disk = preparer.cdi.claim_uids(preparer.settings.cdi_kind) | cached_claim_uids(
        preparer.settings.interception
    )
    for uid in sorted(on_disk - known):
        try:
            if preparer.remove_orphan(uid):
                removed.append(uid)
        except PrepareError as exc:
            log.warning("cleanup: %s", exc)
    return removed


def _roll_back(preparer: NodePreparer, claim: ClaimRef, report: RecoveryReport) -> None:
    try:
        preparer.unprepare(claim)
    except PrepareError as exc:
        report.problems.append(str(exc))
        log.warning("rollback of %s failed: %s", claim, exc)
        return
    report.rolled_back.append(claim.uid)
    log.info("rolled back claim %s (unfinished prepare or previous boot)", claim)


def _rebuild(preparer: NodePreparer, report: RecoveryReport) -> None:
    """Prepare again what the CDI dir shows and the API confirms; remove the rest."""
    uids = preparer.cdi.claim_uids(preparer.settings.cdi_kind)
    if not uids:
        return
    try:
        claims = preparer.client.resource_claims.list().items
    except KubeError as exc:
        report.problems.append(f"cannot list claims to rebuild state: {exc}")
        log.warning("rebuild: cannot list claims, files stay until the periodic cleanup: %s", exc)
        return
    by_uid = {c.metadata.uid: c for c in claims if c.metadata is not None and c.metadata.uid}
    for uid in sorted(uids):
        claim = by_uid.get(uid)
        if claim is None or claim.metadata is None:
            try:
                if preparer.remove_orphan(uid):
                    report.removed_orphans.append(uid)
            except PrepareError as exc:
                report.problems.append(str(exc))
            continue
        ref = ClaimRef(uid, claim.metadata.namespace or "", claim.metadata.name or "")
        try:
            preparer.prepare(ref)
            report.reprepared.append(uid)
        except PrepareError as exc:
            report.problems.append(str(exc))
            log.warning("rebuild: claim %s could not be prepared again, removing its files: %s", ref, exc)
            try:
                preparer.unprepare(ref)  # its recorded artifacts if it got that far, else by settings
                report.removed_orphans.append(uid)
            except PrepareError as inner:
                report.problems.append(str(inner))
