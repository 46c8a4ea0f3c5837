"""``RealCluster``: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

Owns: the lifecycle of one real control plane made of ``hdra-k8s`` processes: generating its PKI,
starting each component after the one it needs is ready (etcd ``/health``; the API server's
``/readyz`` and the ``default`` namespace; the controller manager's ``/healthz``; the scheduler's
``/readyz``), failing fast with the component's log tail when one exits or is not ready in time,
writing kubeconfigs, creating Ready Nodes (no kubelet runs; nothing marks them NotReady), and
stopping every process group in reverse order however the caller leaves (``with`` block or
``stop()``; idempotent). It must never decide what a test does on the cluster.

Identities: the admin kubeconfig is a client certificate in ``system:masters``; the scheduler
runs as ``system:kube-scheduler`` (its bootstrap RBAC role, so 1.36's ``resourceclaims/binding``
authorization is real); the controller manager runs in ``system:masters`` because no
service-account token controller runs to give its controllers their own accounts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import yaml

from dra_driver.kube import AlreadyExists, KubeClient, KubeError
from dra_driver.kube.models import Node, NodeCondition, NodeStatus, ObjectMeta
from dra_driver.realcluster import binary as binaries
from dra_driver.realcluster import components
from dra_driver.realcluster.certs import Pki, create_pki
from dra_driver.realcluster.errors import RealClusterError
from dra_driver.realcluster.kubeconfig import write_kubeconfig
from dra_driver.realcluster.processes import ManagedProcess, free_port
from dra_driver.rules import MEMORY

log = logging.getLogger("hdra.realcluster")

START_TIMEOUT_S = 180.0
PORT_ATTEMPTS = 3
_PORT_TAKEN = "address already in use"  # a cold API server on a busy 2-core machine needs a minute or more
_POLL_S = 0.2
ADMIN_USER = "hdra-admin"
# Core v1 resources of a kubelet-less Node; core v1 spells memory as hdra's capacity name does.
NODE_CAPACITY = {"cpu": "64", MEMORY: "512Gi", "pods": "110"}


class RealCluster:
    """A real control plane; use as a context manager or call ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        feature_gates: Mapping[str, bool] | None = None,
        nodes: Sequence[str] = (),
        work_dir: Path | None = None,
        binary: Path | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        extender_port: int | None = None,
        scheduler_qps: float | None = None,
    ) -> None:
        self.feature_gates = dict(feature_gates or {})
        self._initial_nodes = tuple(nodes)
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="hdra-realcluster-"))
        self._binary = binary
        self._timeout = start_timeout_s
        self.extender_port = extender_port
        self.scheduler_qps = scheduler_qps  # None: kube-scheduler's own client rate limit
        self.processes: dict[str, ManagedProcess] = {}
        self.ports = components.Ports(free_port(), free_port(), free_port(), free_port(), free_port())
        self._pki: Pki | None = None
        self._client: KubeClient | None = None
        self.kubeconfig = self.work_dir / "admin.kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def pki(self) -> Pki:
        if self._pki is None:
            raise RealClusterError("the real cluster was not started")
        return self._pki

    @property
    def client(self) -> KubeClient:
        """An admin KubeClient (kept open until ``stop``)."""
        if self._client is None:
            self._client = KubeClient.from_kubeconfig(self.kubeconfig)
        return self._client

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> RealCluster:
        if self.processes:
            raise RealClusterError("the real cluster was already started")
        program = str(self._binary or binaries.locate())
        try:
            self._start(program)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, program: str) -> None:
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._pki = pki = create_pki(self.work_dir / "pki")
        gates = self.feature_gates
        self._bring_up(
            program,
            "etcd",
            self._fresh_etcd_args,
            lambda: _http_ok(f"http://127.0.0.1:{self.ports.etcd_client}/health"),
            ("etcd_client", "etcd_peer"),
        )
        admin = pki.client("admin", ADMIN_USER, ("system:masters",))
        context = _tls_context(pki.ca.cert, admin.cert, admin.key)
        self._bring_up(
            program,
            "kube-apiserver",
            lambda: components.apiserver_args(pki, self.ports, self.work_dir / "apiserver-certs", gates),
            lambda: _http_ok(f"{self.url}/readyz", context),
            ("apiserver",),
        )
        write_kubeconfig(self.kubeconfig, self.url, pki.ca.cert, admin, ADMIN_USER)
        self._wait("kube-apiserver", self.processes["kube-apiserver"], self._has_default_namespace)

        manager_config = self.component_kubeconfig(
            "kube-controller-manager", "system:kube-controller-manager", ("system:masters",)
        )
        scheduler_kubeconfig = self.component_kubeconfig("kube-scheduler", "system:kube-scheduler")
        scheduler_config = self.work_dir / "kube-scheduler.yaml"
        scheduler_config.write_text(
            yaml.safe_dump(
                components.scheduler_config(scheduler_kubeconfig, self.extender_port, self.scheduler_qps)
            )
        )
        insecure = _tls_context(None, None, None)
        self._bring_up(
            program,
            "kube-controller-manager",
            lambda: components.controller_manager_args(
                manager_config, self.ports, self.work_dir / "kcm-certs", gates
            ),
            lambda: _http_ok(f"https://127.0.0.1:{self.ports.controller_manager}/healthz", insecure),
            ("controller_manager",),
        )
        self._bring_up(
            program,
            "kube-scheduler",
            lambda: components.scheduler_args(
                scheduler_config, self.ports, self.work_dir / "scheduler-certs", gates
            ),
            lambda: _http_ok(f"https://127.0.0.1:{self.ports.scheduler}/readyz", insecure),
            ("scheduler",),
        )
        for name in self._initial_nodes:
            self.create_node(name)
        log.info(
            "real control plane ready url=%s gates=%s seconds=%.1f",
            self.url,
            components.gates_flag(gates) or "defaults",
            time.monotonic() - started,
        )

    def stop(self) -> None:
        """Stop every component (newest first) and close the client; safe to call twice."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for name in reversed(list(self.processes)):
            code = self.processes[name].stop()
            log.info("stopped %s exit=%s", name, code)
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- helpers for callers ----------------------------------------------------------------------

    def component_kubeconfig(self, name: str, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A client-certificate kubeconfig for ``user`` in ``groups``: ``<work_dir>/<name>.kubeconfig``."""
        pair = self.pki.client(name, user, groups)
        return write_kubeconfig(self.work_dir / f"{name}.kubeconfig", self.url, self.pki.ca.cert, pair, user)

    def token_kubeconfig(self, name: str, token: str) -> Path:
        """A kubeconfig that authenticates with a bearer ``token`` (e.g. a TokenRequest's)."""
        return write_kubeconfig(self.work_dir / f"{name}.kubeconfig", self.url, self.pki.ca.cert, token, name)

    def write_kubeconfig(self, path: Path) -> Path:
        """A copy of the admin kubeconfig at ``path`` (mode 0600)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.kubeconfig, path)
        path.chmod(0o600)
        return path

    def create_node(self, name: str, labels: Mapping[str, str] | None = None) -> Node:
        """A Ready Node without a kubelet (allocatable defaults to capacity); an existing one is kept."""
        node = Node(
            metadata=ObjectMeta(name=name, labels={"kubernetes.io/hostname": name, **(labels or {})}),
            status=NodeStatus(
                capacity=dict(NODE_CAPACITY),
                allocatable=dict(NODE_CAPACITY),
                conditions=[
                    NodeCondition(
                        type="Ready", status="True", reason="KubeletReady", message="hdra: no kubelet"
                    )
                ],
            ),
        )
        try:
            return self.client.nodes.create(node)
        except AlreadyExists:
            return self.client.nodes.get(name)

    def log_paths(self) -> dict[str, Path]:
        return {name: process.log for name, process in self.processes.items()}

    # --- internals --------------------------------------------------------------------------------

    def _fresh_etcd_args(self) -> list[str]:
        """etcd's command line over an empty data dir (a retried start must not find a half-made one)."""
        shutil.rmtree(self.work_dir / "etcd", ignore_errors=True)
        return components.etcd_args(self.work_dir / "etcd", self.ports)

    def _bring_up(
        self,
        program: str,
        name: str,
        args: Callable[[], list[str]],
        ready: Callable[[], bool],
        ports: tuple[str, ...],
    ) -> None:
        """Start ``name`` and wait until ``ready``. ``free_port`` can only say what is free *now*:
        when another process took one of the component's ``ports`` before it bound them (it exits
        with "address already in use"), those ports are chosen anew, at most PORT_ATTEMPTS times."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            process = self._launch(program, name, args())
            try:
                self._wait(name, process, ready)
            except RealClusterError:
                taken = process.exit_code() is not None and _PORT_TAKEN in process.log.read_text(
                    errors="replace"
                )
                if not taken or attempt == PORT_ATTEMPTS:
                    raise
                process.stop()
                process.log.rename(process.log.with_name(f"{process.log.name}.{attempt}"))
                self.ports = dataclasses.replace(self.ports, **{field: free_port() for field in ports})
                log.info("%s: a port was taken before it bound; retrying with %s", name, self.ports)
                continue
            return

    def _launch(self, program: str, name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, [program, *args], self.work_dir / f"{name}.log")
        self.processes[name] = process
        log.info("started %s pid=%d", name, process.pid)
        return process

    def _wait(self, name: str, process: ManagedProcess, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            code = process.exit_code()
            if code is not None:
                raise RealClusterError(
                    f"{name} exited with status {code} during start-up (log {process.log}): "
                    f"{process.log_tail()}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise RealClusterError(
                    f"{name} was not ready within {self._timeout:.0f} s (log {process.log}): "
                    f"{process.log_tail()}"
                )
            time.sleep(_POLL_S)

    def _has_default_namespace(self) -> bool:
        try:
            self.client.namespaces.get("default")
        except KubeError:  # not created yet by the API server's system-namespaces controller
            return False
        return True


def _tls_context(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    # No CA: the self-signed serving certificates of the controller manager and scheduler, whose
    # health endpoints are all that is asked of them.
    context = (
        ssl._create_unverified_context()  # noqa: S323 - loopback health probe, no data
        if ca is None
        else ssl.create_default_context(cafile=str(ca))
    )
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as answer:  # noqa: S310 - loopback
            body = answer.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False
    if url.endswith("/health"):  # etcd answers {"health":"true"} only when it has a leader
        with contextlib.suppress(ValueError):
            return bool(json.loads(body).get("health") == "true")
        return False
    return True
