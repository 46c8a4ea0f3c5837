"""The slice publisher: keeps one node's ResourceSlices of one driver equal to what its devices say.

Owns: turning the desired slices (from ``dra_driver.slices``) into API writes — create, update,
delete — with the pool generation and ownerReference right, and the ``auto`` sharing-mode fallback
when the API server drops fields of a disabled feature gate.

Contracts:
- No API write when nothing changed: a sync whose desired slices equal the stored ones only lists.
- The pool generation is bumped only when the *content* of the pool changes (devices, counters,
  or slice count). Repairing a slice someone deleted or edited keeps the generation.
- Obsolete slices are deleted first (with uid + resourceVersion preconditions), then changed slices
  are updated, then missing ones created, as the upstream controller does.

It must never talk to the kubelet or discover devices itself: devices come from a callable. With
``keep_order`` the callable's order is the published device order (a scheduling policy's card
preference, DESIGN section 8); without it cards are published in index order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube import AlreadyExists, BadRequest, Conflict, KubeClient, NotFound, node_reference
from dra_driver.kube.features import FeatureGate
from dra_driver.kube.models import OwnerReference, ResourceSlice
from dra_driver.slices import (
    AUTO_FALLBACK,
    EMPTY_POOL,
    PublishedPool,
    SharingMode,
    SliceOptions,
    build_slices,
    dropped_gates,
    slice_content,
)

log = logging.getLogger("hdra.controller")

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "hdra"
# The resourceVersions of our own writes, so the watch can ignore their echoes. Bounded: losing an
# entry only costs one extra (write-free) sync.
_MAX_KNOWN_VERSIONS = 4096


class PublishError(Exception):
    """A sync could not bring the node's slices to the desired state; the message names why."""


@dataclass
class SyncResult:
    """What one sync did, for logs, tests and benchmarks."""

    mode: SharingMode
    generation: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


class SlicePublisher:
    """Publishes the ResourceSlices of ``driver`` on ``node_name`` (pool name = node name).

    ``mode`` may be ``SharingMode.AUTO``: the publisher then starts with the richest mode and falls
    back (capacity → partitions → replicas) when the API server drops the fields that mode needs,
    logging and recording an Event on the Node that names the missing feature gate.
    """

    def __init__(
        self,
        client: KubeClient,
        *,
        driver: str,
        node_name: str,
        devices: Callable[[], Sequence[AcceleratorDevice]],
        mode: SharingMode = SharingMode.AUTO,
        options: SliceOptions | None = None,
        keep_order: bool = False,
    ) -> None:
        self._client = client
        self._keep_order = keep_order
        self._driver = driver
        self._node_name = node_name
        self._devices = devices
        self._requested_mode = mode
        self._fallback_index = 0
        self._probed = False
        self._options = options or SliceOptions()
        self._owner: OwnerReference | None = None
        # Content (see slices.slice_content) of what this process last published, by slice name,
        # and the generation it carried. None until the first sync has looked at the API.
        self._published: dict[str, dict[str, Any]] | None = None
        self._generation = 0
        self.known_resource_versions: set[str] = set()
        # The snapshot of the last successful sync (slices as published, generation, owner and all),
        # swapped in by one assignment. Prepare, health, metrics and policy read it, so they agree
        # with the scheduler and with each other on every number.
        self._pool: PublishedPool = EMPTY_POOL

    @property
    def published_pool(self) -> PublishedPool:
        """The snapshot of the last successful sync (``version`` 0 before the first)."""
        return self._pool

    @property
    def published_slices(self) -> tuple[ResourceSlice, ...]:
        return self._pool.slices

    @property
    def client(self) -> KubeClient:
        return self._client

    @property
    def driver(self) -> str:
        return self._driver

    @property
    def node_name(self) -> str:
        return self._node_name

    @property
    def field_selector(self) -> str:
        return f"spec.nodeName={self._node_name},spec.driver={self._driver}"

    @property
    def mode(self) -> SharingMode:
        """The mode actually published (auto resolved to the mode currently in use)."""
        if self._requested_mode is SharingMode.AUTO:
            return AUTO_FALLBACK[self._fallback_index]
        return self._requested_mode

    def sync(self) -> SyncResult:
        """Bring the API to the desired state once; falls back and re-syncs in auto mode."""
        if self._requested_mode is SharingMode.AUTO and not self._probed:
            self._probe_auto_mode()
        while True:
            result, dropped = self._sync_mode(self.mode)
            if not dropped:
                return result
            if self._requested_mode is not SharingMode.AUTO:
                gates = ", ".join(sorted(g.value for g in dropped))
                raise PublishError(
                    f"the API server dropped the fields of sharing mode {self.mode.value} for node "
                    f"{self._node_name}: feature gate {gates} is disabled; use --mode auto or enable it"
                )
            self._fall_back(dropped)

    def _probe_auto_mode(self) -> None:
        """Pick the richest mode whose fields survive a dry-run create, before any real write.

        This keeps a cluster from ever seeing a pool in a mode its API server mangles. A server
        that cannot dry-run (400) is left to the write-time check in ``sync``.
        """
        while True:
            dropped: set[FeatureGate] = set()
            for slice_ in self._desired(self.mode):
                assert slice_.metadata is not None
                # Only the name differs, and the request is serialized, never kept: a new metadata
                # on a shallow copy (a deep copy of a slice cost ~2 ms; issue 17 item 6).
                renamed = slice_.metadata.model_copy(update={"name": None, "generate_name": "hdra-probe-"})
                probe = slice_.model_copy(update={"metadata": renamed})
                try:
                    answer = self._client.resource_slices.create(probe, dry_run=True)
                except BadRequest as exc:
                    log.info("API server cannot dry-run ResourceSlices (%s); checking on write instead", exc)
                    self._probed = True
                    return
                dropped |= dropped_gates(slice_, answer)
            if not dropped:
                self._probed = True
                return
            self._fall_back(dropped)

    def _fall_back(self, dropped: set[FeatureGate]) -> None:
        previous = self.mode
        if self._fallback_index + 1 >= len(AUTO_FALLBACK):
            raise PublishError(f"no sharing mode left to fall back to after {previous.value}")
        self._fallback_index += 1
        gates = ", ".join(sorted(g.value for g in dropped))
        message = (
            f"the API server dropped the {previous.value}-mode fields of ResourceSlices for driver "
            f"{self._driver}: feature gate {gates} is disabled; falling back to {self.mode.value} mode"
        )
        log.warning("%s", message)
        self._client.record_event(
            # uid = the node name, as the kubelet does: `kubectl describe node` finds it (issue 18 item 13)
            node_reference(self._node_name),
            reason="SharingModeFallback",
            message=message,
            type="Warning",
        )

    def _owner_reference(self) -> OwnerReference:
        if self._owner is None:
            try:
                node = self._client.nodes.get(self._node_name)
            except NotFound:
                raise PublishError(
                    f"node {self._node_name} does not exist in the API server; "
                    "--node-name must name this node's Node object"
                ) from None
            uid = node.metadata.uid if node.metadata is not None else None
            if not uid:
                raise PublishError(f"node {self._node_name} has no metadata.uid")
            self._owner = OwnerReference(
                api_version="v1", kind="Node", name=self._node_name, uid=uid, controller=True
            )
        return self._owner

    def _desired(
        self, mode: SharingMode, cards: list[AcceleratorDevice] | None = None
    ) -> list[ResourceSlice]:
        return build_slices(
            list(self._devices()) if cards is None else cards,
            driver=self._driver,
            node_name=self._node_name,
            mode=mode,
            options=self._options,
            keep_order=self._keep_order,
        )

    def _sync_mode(self, mode: SharingMode) -> tuple[SyncResult, set[FeatureGate]]:
        owner = self._owner_reference()
        cards = list(self._devices())
        desired = self._desired(mode, cards)
        existing = {s.metadata.name: s for s in self._list() if s.metadata is not None and s.metadata.name}
        desired_content = {_name(s): slice_content(s) for s in desired}

        if self._published is None:
            # First look at the API in this process: adopt what is stored if it already says the same.
            stored_generation = max((_generation(s) for s in existing.values()), default=0)
            stored_content = {name: slice_content(s) for name, s in existing.items()}
            self._generation = stored_generation
            self._published = stored_content if stored_content == desired_content else {}
        if desired_content != self._published:
            self._generation += 1
        result = SyncResult(mode=mode, generation=self._generation)
        dropped: set[FeatureGate] = set()

        for name, obsolete in existing.items():
            if name not in desired_content:
                self._delete(obsolete, result)
        for slice_ in desired:
            _finish(slice_, self._generation, len(desired), owner)
            stored = existing.get(_name(slice_))
            if stored is not None and _same(stored, slice_):
                continue
            written = self._write(slice_, stored, result)
            dropped |= dropped_gates(slice_, written)
        self._published = desired_content
        self._pool = PublishedPool.from_slices(
            cards, desired, mode=mode, generation=self._generation, version=self._pool.version + 1
        )
        if result.writes:
            log.info(
                "node %s driver %s: %s mode, generation %d, %d created, %d updated, %d deleted",
                self._node_name,
                self._driver,
                mode.value,
                self._generation,
                len(result.created),
                len(result.updated),
                len(result.deleted),
            )
        return result, dropped

    def _list(self) -> list[ResourceSlice]:
        return list(self._client.resource_slices.list(field_selector=self.field_selector).items)

    def _delete(self, stored: ResourceSlice, result: SyncResult) -> None:
        meta = stored.metadata
        assert meta is not None and meta.name is not None
        try:
            self._client.resource_slices.delete(
                meta.name, uid=meta.uid, resource_version=meta.resource_version
            )
        except Conflict as exc:
            raise PublishError(f"slice {meta.name} changed while being deleted; will re-sync: {exc}") from exc
        result.deleted.append(meta.name)

    def _write(
        self, slice_: ResourceSlice, stored: ResourceSlice | None, result: SyncResult
    ) -> ResourceSlice:
        name = _name(slice_)
        try:
            if stored is None:
                written = self._client.resource_slices.create(slice_)
                result.created.append(name)
            else:
                assert slice_.metadata is not None and stored.metadata is not None
                slice_.metadata.resource_version = stored.metadata.resource_version
                written = self._client.resource_slices.update(slice_)
                result.updated.append(name)
        except (Conflict, AlreadyExists, NotFound) as exc:
            # Someone else wrote the slice between our list and our write: re-sync from a fresh list.
            self._published = None
            raise PublishError(f"slice {name} changed concurrently; will re-sync: {exc}") from exc
        if written.metadata is not None and written.metadata.resource_version:
            if len(self.known_resource_versions) > _MAX_KNOWN_VERSIONS:
                self.known_resource_versions.clear()
            self.known_resource_versions.add(written.metadata.resource_version)
        return written


def _name(slice_: ResourceSlice) -> str:
    assert slice_.metadata is not None and slice_.metadata.name is not None
    return slice_.metadata.name


def _generation(slice_: ResourceSlice) -> int:
    return slice_.spec.pool.generation if slice_.spec is not None else 0


def _finish(slice_: ResourceSlice, generation: int, count: int, owner: OwnerReference) -> None:
    """Stamp the pool generation, slice count, owner and label onto a desired slice."""
    assert slice_.metadata is not None and slice_.spec is not None
    slice_.spec.pool.generation = generation
    slice_.spec.pool.resource_slice_count = count
    slice_.metadata.owner_references = [owner]
    slice_.metadata.labels = {**(slice_.metadata.labels or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}


def _same(stored: ResourceSlice, desired: ResourceSlice) -> bool:
    """True when the stored slice already says everything the desired one says."""
    assert stored.metadata is not None and desired.metadata is not None
    if stored.spec is None or desired.spec is None:
        return False
    owners = [o.uid for o in stored.metadata.owner_references or []]
    labels = stored.metadata.labels or {}
    return (
        slice_content(stored) == slice_content(desired)
        and stored.spec.pool.generation == desired.spec.pool.generation
        and owners == [o.uid for o in desired.metadata.owner_references or []]
        and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
    )
