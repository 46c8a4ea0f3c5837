"""NodePreparer: the real ``ClaimPreparer`` — allocated claim in, CDI devices with limits out.

Owns the order of one prepare, which is what makes it crash-safe (DESIGN §9):

1. check and compute everything (claim, node, devices, parameters, limits, CDI spec) — a bad
   claim fails here and nothing is written;
2. only when the plan grants node-unique units (AMD/Hygon compute units, vDCU ids) or writes
   files outside hdra's CDI and claims directories (Hygon vDCU configs): record
   ``PrepareStarted`` with the artifacts it is about to create and the units. Planning and this
   record happen under one node-wide lock, and what is taken is read from the checkpoint's
   entries, so two claims never get the same unit, a restarted plugin knows every unit its
   prepared claims hold, and removing an entry frees its units;
3. create the claim's cache dir, write the vendor's files (Hygon vDCU configs, atomically), write
   its CDI spec (atomically);
4. record ``PrepareCompleted`` with the devices returned to the kubelet and the artifacts.

A crash after 2 leaves a ``PrepareStarted`` entry that start-up rolls back (``recovery``); a crash
during 3 of a claim without step 2 leaves only a spec and a cache dir named after the claim, which
the claim's next prepare or unprepare replaces or removes, and the periodic cleanup removes if
neither comes (``recovery.cleanup_stale``); so a plain claim costs one checkpoint write, not two.
A crash after 4 leaves a complete claim that the next prepare returns as is. Unprepare (and a rollback, which
is an unprepare) removes exactly the artifacts the checkpoint entry recorded — also when
``--cdi-dir``, ``--state-dir`` or ``--vdev-dir`` changed since — then the entry; a claim without an
entry has its files removed where the current settings put them; an unknown claim succeeds.

Every public method holds the claim's lock (``locks.ClaimLocks``) for its whole run, so the gRPC
workers, start-up recovery and the periodic cleanup never interleave on one claim.

Durability (DESIGN §9): everything survives a killed process without any fsync. Only an artifact
that outlives a reboot outside hdra's own CDI and claims directories (a Hygon vDCU config in the
vendor's directory) needs its record on disk first, so a checkpoint write is fsynced exactly when
it adds, changes or removes such an entry (the store keeps its compactions durable while one is
held); CDI specs and cache dirs are never fsynced.

It must never talk gRPC, never build a path from anything but a validated claim UID, and never
remove a recorded artifact whose own or parent directory name does not carry the claim's UID.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from dra_driver.cdi import (
    CdiDevice,
    CdiError,
    CdiSpec,
    CdiWriter,
    ContainerEdits,
    atomic_write,
    build_spec,
    cdi_kind,
    device_name,
    fsync_dir,
)
from dra_driver.cdi import qualified_name as cdi_qualified_name
from dra_driver.checkpoint import (
    CheckpointDevice,
    CheckpointEntry,
    CheckpointError,
    CheckpointStore,
    CheckpointUnits,
    ClaimState,
)
from dra_driver.interception import (
    DeviceLimit,
    HamiCoreOptions,
    InterceptionError,
    InterceptionResult,
    InterceptionSettings,
    NodeUnits,
    UnitGrant,
    build_vendor_edits,
    claim_cache_dir,
    claim_vendor,
    create_claim_cache_dir,
    remove_claim_cache_dir,
    remove_claim_vdev_dir,
)
from dra_driver.interception.cache_dir import remove_tree
from dra_driver.kube import KubeClient
from dra_driver.parameters import AcceleratorConfig, ParameterError, resolve_request_configs
from dra_driver.prepare.api import ClaimRef, PreparedDevice, PrepareError
from dra_driver.prepare.catalog import DeviceCatalog
from dra_driver.prepare.claims import AllocatedClaim, check_claim_uid, parent_request, read_allocated_claim
from dra_driver.prepare.failpoints import (
    AFTER_CACHE_DIR,
    AFTER_CDI_SPEC,
    AFTER_CHECKPOINT_COMPLETED,
    AFTER_CHECKPOINT_STARTED,
    failpoint,
)
from dra_driver.prepare.limits import AllocatedDevice, device_limits
from dra_driver.prepare.locks import ClaimLocks
from dra_driver.runtime import log_fields

log = logging.getLogger("hdra.prepare")


@dataclass(frozen=True)
class PreparerSettings:
    """Who we are and where we write. ``with_library`` is False for backends without HAMi-core."""

    driver: str
    node_name: str
    vendor: str
    with_library: bool
    interception: InterceptionSettings

    @property
    def cdi_kind(self) -> str:
        return cdi_kind(self.vendor)


class NodePreparer:
    """Prepares and unprepares claims of one driver on one node (see the module docstring)."""

    def __init__(
        self,
        client: KubeClient,
        settings: PreparerSettings,
        *,
        catalog: Callable[[], DeviceCatalog],
        cdi: CdiWriter,
        checkpoint: CheckpointStore,
    ) -> None:
        self._client = client
        self._settings = settings
        self._catalog = catalog
        self._cdi = cdi
        self._checkpoint = checkpoint
        self._locks = ClaimLocks()
        # Held from planning a claim to recording its PrepareStarted entry: the units a plan grants
        # are chosen from the checkpoint's entries, so no two plans of different claims interleave.
        self._units_lock = threading.Lock()
        # Where the artifacts live that the periodic cleanup finds by name (DESIGN §9).
        self._own_dirs = tuple(
            f"{directory}{os.sep}" for directory in (cdi.cdi_dir, settings.interception.claims_dir)
        )

    @property
    def settings(self) -> PreparerSettings:
        return self._settings

    @property
    def checkpoint(self) -> CheckpointStore:
        return self._checkpoint

    @property
    def client(self) -> KubeClient:
        return self._client

    @property
    def cdi(self) -> CdiWriter:
        return self._cdi

    @property
    def locks(self) -> ClaimLocks:
        return self._locks

    def prepare(self, claim: ClaimRef) -> tuple[PreparedDevice, ...]:
        check_claim_uid(claim)
        with _claim_fields(claim), self._locks.hold(claim.uid):
            return self._prepare(claim)

    def unprepare(self, claim: ClaimRef) -> None:
        try:
            check_claim_uid(claim)
        except PrepareError:
            log.info("unprepare of %s: not a claim UID this plugin could have prepared; nothing to do", claim)
            return
        with _claim_fields(claim), self._locks.hold(claim.uid):
            entry = self._checkpoint.get(claim.uid)
            if entry is None:
                self._remove_current(claim.uid)
            else:
                self._remove_recorded(entry)
            try:
                self._checkpoint.remove(claim.uid, durable=entry is not None and self._durable(entry))
            except CheckpointError as exc:
                raise PrepareError(f"claim {claim}: cannot update the checkpoint: {exc}") from exc

    def remove_artifacts(self, claim_uid: str) -> None:
        """Delete what a prepare of ``claim_uid`` may have created under the current settings."""
        with self._locks.hold(claim_uid):
            self._remove_current(claim_uid)

    def remove_orphan(self, claim_uid: str) -> bool:
        """Remove the files of a claim the checkpoint does not know; False (nothing done) when it
        knows it by the time the claim's lock is held — a prepare finished in between."""
        with self._locks.hold(claim_uid):
            if self._checkpoint.get(claim_uid) is not None:
                return False
            self._remove_current(claim_uid)
            return True

    def _prepare(self, claim: ClaimRef) -> tuple[PreparedDevice, ...]:
        existing = self._checkpoint.get(claim.uid)
        if (
            existing is not None
            and existing.state is ClaimState.PREPARE_COMPLETED
            and self._spec_present(claim)
        ):
            return tuple(_prepared(d) for d in existing.devices)
        allocated = read_allocated_claim(
            self._client, claim, driver=self._settings.driver, node_name=self._settings.node_name
        )
        with self._units_lock:
            plan = self._plan(allocated, self._taken_units(exclude=claim.uid))
            if existing is not None:
                log.info("claim %s: redoing an unfinished or incomplete prepare", claim)
                self._remove_recorded(existing)
            # Recorded under the lock, so the next plan sees the units (step 2 of the docstring).
            started = self._record_started(claim, plan) if plan.units or plan.files else None
        self._write(claim, plan, started)
        return plan.devices

    def _outlives_reboot(self, artifact: str) -> bool:
        """An artifact outside the CDI dir and the claims dir: nothing else finds it after a reboot."""
        return not artifact.startswith(self._own_dirs)

    def _durable(self, entry: CheckpointEntry) -> bool:
        """Whether a write that adds, changes or removes ``entry`` must be fsynced (module docstring):
        the entry records an artifact that outlives a reboot. (That no other write loses such a
        record is the checkpoint store's part: appends never touch it, compactions keep it durable.)"""
        return any(self._outlives_reboot(artifact) for artifact in entry.artifacts)

    def _remove_recorded(self, entry: CheckpointEntry) -> None:
        """Delete exactly the artifacts ``entry`` recorded (absent ones are fine), then the claim's
        own directories they leave empty."""
        uid = entry.uid
        # Hygon's host copy of a vDCU config is named after the vDCU id the entry holds.
        held_vdev = {f"vdev{u.vdev_id}.conf" for u in entry.units if u.vdev_id is not None}
        try:
            for text in entry.artifacts:
                path = Path(text)
                if uid not in path.name and path.parent.name != uid and path.name not in held_vdev:
                    raise PrepareError(
                        f"claim uid {uid}: the checkpoint records artifact {path}, which is not named after "
                        "the claim; refusing to remove it"
                    )
                _remove_path(path, durable=self._outlives_reboot(text))
                if path.parent.name == uid:
                    _remove_if_empty(path.parent)
        except (InterceptionError, OSError) as exc:
            raise PrepareError(f"claim uid {uid}: cannot remove its files: {exc}") from exc

    def _remove_current(self, claim_uid: str) -> None:
        """Delete what a prepare of ``claim_uid`` would create with the current settings."""
        try:
            self._cdi.remove_claim_spec(claim_uid, self._settings.cdi_kind)
            remove_claim_cache_dir(self._settings.interception, claim_uid)
            remove_claim_vdev_dir(self._settings.interception, claim_uid)
        except (CdiError, InterceptionError, OSError) as exc:
            raise PrepareError(f"claim uid {claim_uid}: cannot remove its files: {exc}") from exc

    def _spec_present(self, claim: ClaimRef) -> bool:
        return self._cdi.spec_path(claim.uid, self._settings.cdi_kind).exists()

    # ---- planning: everything is computed before anything is written ---------------------------

    def _taken_units(self, *, exclude: str) -> NodeUnits:
        """What every other claim in the checkpoint holds (started or completed)."""
        return NodeUnits.of(
            UnitGrant(u.device, u.compute_units, u.vdev_id, u.pipe_id, u.held)
            for entry in self._checkpoint.entries()
            if entry.uid != exclude
            for u in entry.units
        )

    def _plan(self, allocated: AllocatedClaim, taken: NodeUnits) -> _Plan:
        claim = allocated.ref
        devices = device_limits(claim, allocated.results, self._catalog())
        options = _with_device_template(claim, self._options(allocated), devices)
        limits = [
            DeviceLimit(device=d.entry.card, memory_mib=d.memory_mib, cores_percent=d.cores_percent)
            for d in devices
        ]
        try:
            interception = build_vendor_edits(
                claim_vendor(limits),
                claim.uid,
                limits,
                options,
                self._settings.interception,
                with_library=self._settings.with_library,
                taken=taken,
            )
        except InterceptionError as exc:
            raise PrepareError(f"claim {claim}: {exc}") from exc
        kind = self._settings.cdi_kind
        cdi_devices: list[CdiDevice] = []
        prepared: list[PreparedDevice] = []
        for device in devices:
            cdi_device, ids = self._cdi_device(claim, device, interception)
            cdi_devices.append(cdi_device)
            prepared.append(
                PreparedDevice(
                    request_names=(parent_request(device.result.request),),
                    pool_name=device.result.pool,
                    device_name=device.result.device,
                    cdi_device_ids=(cdi_qualified_name(kind, cdi_device.name), *ids),
                    share_id=device.result.share_id or "",
                )
            )
        try:
            spec = build_spec(kind, cdi_devices, container_edits=interception.edits)
        except CdiError as exc:
            raise PrepareError(f"claim {claim}: cannot build its CDI spec: {exc}") from exc
        return _Plan(
            spec=spec,
            devices=tuple(prepared),
            intercepted=interception.cache_dir is not None,
            files=interception.files,
            units=interception.units,
        )

    def _options(self, allocated: AllocatedClaim) -> HamiCoreOptions:
        """One claim, one set of HAMi-core options: every request of ours must agree on them."""
        requests = sorted({r.request for r in allocated.results})
        try:
            configs = resolve_request_configs(
                allocated.configs, driver=self._settings.driver, request_names=requests
            )
        except ParameterError as exc:
            raise PrepareError(f"claim {allocated.ref}: invalid parameters: {exc}") from exc
        distinct: dict[tuple[object, ...], list[str]] = {}
        for request in requests:
            distinct.setdefault(_option_key(configs[request]), []).append(request)
        if len(distinct) > 1:
            groups = "; ".join(", ".join(names) for names in distinct.values())
            raise PrepareError(
                f"claim {allocated.ref}: its requests carry different AcceleratorConfig settings ({groups}); "
                "the limits of one claim are enforced together, so they must agree"
            )
        config = configs[requests[0]]
        return HamiCoreOptions(
            core_policy=config.core_policy,
            priority=config.priority,
            log_level=config.log_level,
            enforcement=config.enforcement,
            vnpu_template=config.ascend.vnpu_template if config.ascend is not None else None,
        )

    def _cdi_device(
        self, claim: ClaimRef, device: AllocatedDevice, interception: InterceptionResult
    ) -> tuple[CdiDevice, tuple[str, ...]]:
        """One CDI device per allocation result; its edits name the card so they are never empty."""
        result, card = device.result, device.entry.card
        name = device_name(claim.uid, result.device, result.share_id or "")
        variable = "HDRA_DEVICE_" + "".join(c if c.isalnum() else "_" for c in result.device.upper())
        edits = ContainerEdits(env=(f"{variable}={card.uuid}",))
        toolkit_ids = tuple(i for i in interception.cdi_device_ids if i.endswith(f"={card.uuid}"))
        return CdiDevice(name=name, container_edits=edits), toolkit_ids

    # ---- writing: checkpointed step by step ------------------------------------------------------

    def _record_started(self, claim: ClaimRef, plan: _Plan) -> CheckpointEntry:
        started = self._entry(claim, plan)
        try:
            self._checkpoint.put(started, durable=self._durable(started))
        except CheckpointError as exc:
            raise PrepareError(f"claim {claim}: writing its prepared state failed: {exc}") from exc
        return started

    def _entry(self, claim: ClaimRef, plan: _Plan) -> CheckpointEntry:
        """The ``PrepareStarted`` entry of ``plan``: its artifacts and units, no devices yet."""
        settings = self._settings
        spec_path = self._cdi.spec_path(claim.uid, settings.cdi_kind)
        artifacts = [str(spec_path)]
        if plan.intercepted:
            artifacts.append(str(claim_cache_dir(settings.interception, claim.uid)))
        artifacts.extend(str(path) for path in sorted(plan.files))
        return CheckpointEntry(
            uid=claim.uid,
            namespace=claim.namespace,
            name=claim.name,
            state=ClaimState.PREPARE_STARTED,
            artifacts=tuple(artifacts),
            units=tuple(
                CheckpointUnits(
                    device=u.device,
                    compute_units=u.compute_units,
                    vdev_id=u.vdev_id,
                    pipe_id=u.pipe_id,
                    held=u.held,
                )
                for u in plan.units
            ),
        )

    def _write(self, claim: ClaimRef, plan: _Plan, started: CheckpointEntry | None) -> None:
        settings = self._settings
        try:
            failpoint(AFTER_CHECKPOINT_STARTED)
            if plan.intercepted:
                create_claim_cache_dir(settings.interception, claim.uid)
            for path, content in sorted(plan.files.items()):
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, content.encode(), 0o644)
            failpoint(AFTER_CACHE_DIR)
            self._cdi.write_claim_spec(claim.uid, plan.spec)
            failpoint(AFTER_CDI_SPEC)
            completed = (started or self._entry(claim, plan)).model_copy(
                update={
                    "state": ClaimState.PREPARE_COMPLETED,
                    "devices": tuple(_checkpointed(d) for d in plan.devices),
                }
            )
            self._checkpoint.put(completed, durable=self._durable(completed))
            failpoint(AFTER_CHECKPOINT_COMPLETED)
        except (CheckpointError, CdiError, InterceptionError, OSError) as exc:
            raise PrepareError(f"claim {claim}: writing its prepared state failed: {exc}") from exc
        log.info("claim %s: prepared %d device(s)", claim, len(plan.devices))


def _claim_fields(claim: ClaimRef) -> AbstractContextManager[None]:
    """Every line logged while working on ``claim`` carries its ``claim`` and ``uid`` fields."""
    return log_fields(claim=f"{claim.namespace}/{claim.name}", uid=claim.uid)


def _remove_path(path: Path, *, durable: bool) -> None:
    """A directory with its contents, or a file; a symlink is removed itself, never followed.
    ``durable``: the removal is on disk when this returns (before the record of it goes)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        remove_tree(path)
    else:
        path.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return
    except OSError as exc:
        if any(directory.iterdir()):
            return  # not empty: something else of the claim is still there
        raise PrepareError(f"cannot remove the empty directory {directory}: {exc}") from exc


@dataclass(frozen=True)
class _Plan:
    spec: CdiSpec
    devices: tuple[PreparedDevice, ...]
    intercepted: bool
    files: Mapping[Path, str] = field(default_factory=dict)
    units: tuple[UnitGrant, ...] = ()


def _with_device_template(
    claim: ClaimRef, options: HamiCoreOptions, devices: list[AllocatedDevice]
) -> HamiCoreOptions:
    """A device published as an Ascend vNPU template fixes the claim's template; a different
    ``ascend.vnpuTemplate`` in its AcceleratorConfig, or devices of different templates, conflict."""
    published = {d.entry.vnpu_template: d.result.device for d in devices if d.entry.vnpu_template}
    if not published:
        return options
    if len(published) > 1:
        named = ", ".join(f"{device} ({template})" for template, device in sorted(published.items()))
        raise PrepareError(f"claim {claim}: its devices are vNPUs of different templates: {named}")
    ((template, device),) = published.items()
    if options.vnpu_template is not None and options.vnpu_template != template:
        raise PrepareError(
            f"claim {claim}: AcceleratorConfig ascend.vnpuTemplate {options.vnpu_template!r} conflicts with "
            f"vnpuTemplate {template!r} of allocated device {device}"
        )
    return dataclasses.replace(options, vnpu_template=template)


def _option_key(config: AcceleratorConfig) -> tuple[object, ...]:
    template = config.ascend.vnpu_template if config.ascend is not None else None
    return (config.core_policy, config.priority, config.log_level, config.enforcement, template)


def _prepared(device: CheckpointDevice) -> PreparedDevice:
    return PreparedDevice(
        request_names=tuple(device.request_names),
        pool_name=device.pool_name,
        device_name=device.device_name,
        cdi_device_ids=tuple(device.cdi_device_ids),
        share_id=device.share_id,
    )


def _checkpointed(device: PreparedDevice) -> CheckpointDevice:
    return CheckpointDevice(
        request_names=device.request_names,
        pool_name=device.pool_name,
        device_name=device.device_name,
        cdi_device_ids=device.cdi_device_ids,
        share_id=device.share_id,
    )
