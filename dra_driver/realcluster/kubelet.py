"""The pod side of a fake kubelet for one Node of the real control plane.

Owns: what a kubelet does with DRA pods (reference/real-cluster.md section 4): poll the pods bound
to its Node; resolve each pod's claim names (``status.resourceClaimStatuses`` for claims made from
templates, ``spec.resourceClaims[].resourceClaimName`` otherwise); wait until every claim is
allocated and its ``reservedFor`` holds the pod; call ``NodePrepareResources`` of each driver that
has devices in the claims, over the plugin socket the dev cluster's ``FakeKubelet`` registered;
hand the CDI ids to ``run`` (e.g. podman) and mark the pod Running. When the pod is being deleted
(``deletionTimestamp``): ``NodeUnprepareResources``, then delete it with grace period 0 (otherwise
it stays Terminating and ``reservedFor`` is never cleared). A failed call is recorded per pod and
retried on the next poll, as the kubelet retries. It must never allocate or reserve anything: the
real scheduler and resourceclaim controller do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kubernetes.client import CoreV1Api, V1DeleteOptions, V1Preconditions
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster.kubelet import ClaimPrepareResult, FakeKubelet, KubeletCheckError
from dra_driver.kube import KubeClient, NotFound
from dra_driver.kube.models import Pod, ResourceClaim
from dra_driver.prepare.api import ClaimRef

log = logging.getLogger("hdra.realcluster")

POLL_S = 0.2

# Called with the pod and, per claim name, the CDI device ids the plugins returned.
ContainerRunner = Callable[[Pod, Mapping[str, tuple[str, ...]]], None]


@dataclass
class PodRecord:
    """What the kubelet did for one pod (by uid)."""

    namespace: str
    name: str
    claims: dict[str, ClaimRef] = field(default_factory=dict)  # pod.spec.resourceClaims[].name -> claim
    drivers: dict[str, set[str]] = field(default_factory=dict)  # same key -> drivers with devices in it
    prepared: dict[str, ClaimPrepareResult] = field(default_factory=dict)  # claim uid -> answer
    unprepared: bool = False
    error: str = ""


class PodKubelet:
    """Runs the DRA part of a kubelet for ``node`` in a thread (``start``/``stop`` or ``with``)."""

    def __init__(
        self, client: KubeClient, node: str, plugins: FakeKubelet, run: ContainerRunner | None = None
    ) -> None:
        self._client = client
        self._core = CoreV1Api(client.api_client)
        self._node = node
        self._plugins = plugins
        self._run = run
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pods: dict[str, PodRecord] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PodKubelet:
        self._thread = threading.Thread(target=self._loop, name=f"pod-kubelet-{self._node}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> PodKubelet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, uid: str) -> PodRecord | None:
        with self._lock:
            return self._pods.get(uid)

    def wait(self, uid: str, done: Callable[[PodRecord], bool], timeout: float, what: str) -> PodRecord:
        """Wait until the record of pod ``uid`` satisfies ``done``; TimeoutError says what was awaited."""
        with self._changed:
            ok = self._changed.wait_for(lambda: uid in self._pods and done(self._pods[uid]), timeout)
            record = self._pods.get(uid)
        if not ok:
            state = (
                "never seen"
                if record is None
                else f"error {record.error!r}, prepared {list(record.prepared)}"
            )
            raise TimeoutError(f"pod uid {uid} on node {self._node}: not {what} within {timeout} s ({state})")
        assert record is not None
        return record

    # --- the loop -----------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception:  # one bad poll must not end the kubelet; logged with the cause
                log.exception("pod kubelet node=%s: poll failed", self._node)
            self._stop.wait(POLL_S)

    def _poll(self) -> None:
        pods = self._client.pods.list(field_selector=f"spec.nodeName={self._node}").items
        for pod in pods:
            namespace, name, uid = _ident(pod)
            with self._lock:
                record = self._pods.get(uid)
            if record is None:
                record = PodRecord(namespace, name)
                with self._changed:
                    self._pods[uid] = record
            if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
                self._tear_down(pod, record)
            elif not record.prepared or record.error:
                self._set_up(pod, record)

    def _set_up(self, pod: Pod, record: PodRecord) -> None:
        claims = self._ready_claims(pod)
        if claims is None:
            return
        by_driver: dict[str, list[ClaimRef]] = {}
        for name, (ref, drivers) in claims.items():
            record.claims[name] = ref
            record.drivers[name] = drivers
            for driver in drivers:
                by_driver.setdefault(driver, []).append(ref)
        prepared: dict[str, ClaimPrepareResult] = {}
        try:
            for driver, refs in sorted(by_driver.items()):
                prepared.update(self._plugins.prepare(driver, refs))
        except KubeletCheckError as exc:
            self._finish(record, error=str(exc))
            return
        errors = [f"{uid}: {answer.error}" for uid, answer in prepared.items() if answer.error]
        if errors:
            self._finish(record, error="; ".join(errors))
            return
        cdi = {
            name: tuple(i for d in prepared[ref.uid].devices for i in d.cdi_device_ids)
            for name, ref in record.claims.items()
        }
        try:
            if self._run is not None:
                self._run(pod, cdi)
            self._mark_running(pod)
        except Exception as exc:  # the container runner's failure is this pod's error
            self._finish(record, prepared=prepared, error=f"starting the containers failed: {exc}")
            return
        log.info(
            "pod kubelet node=%s pod=%s/%s prepared claims=%s",
            self._node,
            record.namespace,
            record.name,
            sorted(cdi),
        )
        self._finish(record, prepared=prepared)

    def _ready_claims(self, pod: Pod) -> dict[str, tuple[ClaimRef, set[str]]] | None:
        """``spec.resourceClaims[].name`` -> (claim, drivers), once every claim is allocated and
        reserved for the pod; None while one is not."""
        namespace, _, uid = _ident(pod)
        statuses = pod.status.resource_claim_statuses if pod.status else None
        generated = {s.name: s.resource_claim_name for s in statuses or []}
        result: dict[str, tuple[ClaimRef, set[str]]] = {}
        for entry in (pod.spec.resource_claims if pod.spec else None) or []:
            name = entry.resource_claim_name or generated.get(entry.name)
            if not name:
                return None  # the resourceclaim controller has not created it yet
            try:
                claim = self._client.resource_claims.get(namespace, name)
            except NotFound:
                return None
            status = claim.status
            reserved = {r.uid for r in (status.reserved_for or [])} if status else set()
            if status is None or status.allocation is None or uid not in reserved:
                return None
            results = status.allocation.devices.results if status.allocation.devices else []
            drivers = {r.driver for r in results or []}
            result[entry.name] = (ClaimRef(_ident(claim)[2], namespace, name), drivers)
        return result

    def _mark_running(self, pod: Pod) -> None:
        """Set ``status.phase`` Running through the status subresource, as a kubelet reports it."""
        namespace, name, _ = _ident(pod)
        try:
            self._core.patch_namespaced_pod_status(name, namespace, {"status": {"phase": "Running"}})
        except ApiException as exc:
            if exc.status != 404:  # a pod deleted meanwhile has nothing to report
                raise

    def _tear_down(self, pod: Pod, record: PodRecord) -> None:
        if record.prepared and not record.unprepared:
            by_driver: dict[str, list[ClaimRef]] = {}
            for name, ref in record.claims.items():
                for driver in record.drivers.get(name, ()):
                    by_driver.setdefault(driver, []).append(ref)
            try:
                for driver, refs in sorted(by_driver.items()):
                    answers = self._plugins.unprepare(driver, refs)
                    failed = [f"{uid}: {a.error}" for uid, a in answers.items() if a.error]
                    if failed:
                        raise KubeletCheckError("; ".join(failed))
            except KubeletCheckError as exc:
                self._finish(record, error=f"unprepare failed: {exc}")
                return
            with self._changed:
                record.unprepared = True
                self._changed.notify_all()
        namespace, name, uid = _ident(pod)
        options = V1DeleteOptions(grace_period_seconds=0, preconditions=V1Preconditions(uid=uid))
        try:
            self._core.delete_namespaced_pod(name, namespace, body=options)
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone already, or replaced by a new pod of that name
                raise

    def _finish(
        self, record: PodRecord, *, prepared: dict[str, ClaimPrepareResult] | None = None, error: str = ""
    ) -> None:
        with self._changed:
            if prepared is not None:
                record.prepared = prepared
            record.error = error
            self._changed.notify_all()
        if error:
            log.warning("pod kubelet node=%s pod=%s/%s: %s", self._node, record.namespace, record.name, error)


def _ident(obj: Pod | ResourceClaim) -> tuple[str, str, str]:
    """(namespace, name, uid) of an object read from the API server, which always sets them."""
    meta = obj.metadata
    if meta is None or not (meta.namespace and meta.name and meta.uid):
        raise ValueError(f"an object from the API server lacks namespace, name or uid: {meta}")
    return meta.namespace, meta.name, meta.uid
