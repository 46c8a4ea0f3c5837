"""The node plugin's Prometheus metrics (``--metrics-port``), in a registry of its own.

Owns: ``PluginMetrics`` (operation counters and latency histogram), ``NodeStateCollector`` (the
prepared-claims gauge, per-card allocation and per-claim actual usage, all computed at scrape
time from the checkpoint, the device catalog, the claims' CDI specs and HAMi-core's shared region
files — one per container attached to the claim, summed per claim and card — so they can never
drift from what is prepared), ``InstrumentedPreparer`` (a
``ClaimPreparer`` wrapper that counts and times) and ``MetricsServer``.

Allocation per card, per prepared claim: a device that is not shared counts its published
capacity (cores default 100); a capacity-mode share counts the limits HAMi-core enforces, read
from ``CUDA_DEVICE_MEMORY_LIMIT_<i>``/``CUDA_DEVICE_SM_LIMIT_<i>`` of the claim's CDI spec (``i``
is the card's CUDA index, ``cuda_order``); a share without those variables (enforcement off) is
not limited and counts the device's whole published capacity.

It must never use prometheus-client's global registry, never write a file, and never let a
scrape fail because one claim's files are missing, torn or malformed (that claim is skipped
and logged; its region is reported unreadable).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dra_driver.checkpoint import CheckpointEntry, CheckpointStore, ClaimState
from dra_driver.devices import AcceleratorDevice
from dra_driver.interception import DeviceLimit, InterceptionError, claim_region_files, cuda_order
from dra_driver.interception.shared_region import SharedRegionError, read_shared_region
from dra_driver.kube.quantity import MIB
from dra_driver.prepare import DeviceCatalog, PreparerSettings
from dra_driver.prepare.api import ClaimPreparer, ClaimRef, PreparedDevice
from dra_driver.rules import CORES, FULL_CORES, MEMORY

log = logging.getLogger("hdra.plugin")

OPERATIONS = ("prepare", "unprepare")


class PluginMetrics:
    """Counters and the latency histogram; registers itself and nothing else in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.operations = Counter(
            "hdra_plugin_operations",
            "Prepare and unprepare calls per claim, by operation and result (ok or error)",
            ["operation", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "hdra_plugin_operation_duration_seconds",
            "Time one prepare or unprepare of one claim took, by operation",
            ["operation"],
            registry=registry,
        )
        for operation in OPERATIONS:  # every series exists from the first scrape
            self.duration.labels(operation)
            for result in ("ok", "error"):
                self.operations.labels(operation, result)

    def observe(self, operation: str, ok: bool, seconds: float) -> None:
        self.operations.labels(operation, "ok" if ok else "error").inc()
        self.duration.labels(operation).observe(seconds)


class InstrumentedPreparer:
    """A ``ClaimPreparer`` that counts and times every call of the wrapped one; results unchanged."""

    def __init__(self, preparer: ClaimPreparer, metrics: PluginMetrics) -> None:
        self._preparer = preparer
        self._metrics = metrics

    def prepare(self, claim: ClaimRef) -> tuple[PreparedDevice, ...]:
        start = time.perf_counter()
        try:
            devices = self._preparer.prepare(claim)
        except BaseException:
            self._metrics.observe("prepare", False, time.perf_counter() - start)
            raise
        self._metrics.observe("prepare", True, time.perf_counter() - start)
        return devices

    def unprepare(self, claim: ClaimRef) -> None:
        start = time.perf_counter()
        try:
            self._preparer.unprepare(claim)
        except BaseException:
            self._metrics.observe("unprepare", False, time.perf_counter() - start)
            raise
        self._metrics.observe("unprepare", True, time.perf_counter() - start)


@dataclass
class _CardTotals:
    card: AcceleratorDevice
    memory: int = 0
    cores: int = 0
    shares: int = 0


def _spec_env(entry: CheckpointEntry) -> dict[str, str]:
    """The claim-wide env of the claim's CDI spec (the first ``.json`` artifact); {} without one."""
    spec = next((Path(a) for a in entry.artifacts if a.endswith(".json")), None)
    if spec is None:
        return {}
    loaded: Any = json.loads(spec.read_text())
    env = (loaded.get("containerEdits") or {}).get("env") or [] if isinstance(loaded, dict) else []
    return dict(item.split("=", 1) for item in env if isinstance(item, str) and "=" in item)


def _claim_allocation(entry: CheckpointEntry, catalog: DeviceCatalog) -> dict[str, tuple[int, int, int]]:
    """Card uuid → (memory bytes, cores percent, shares) this claim holds; ValueError/OSError on bad files."""
    cards: dict[str, AcceleratorDevice] = {}
    fixed: dict[str, tuple[int, int]] = {}
    shared: set[str] = set()
    shares: dict[str, int] = {}
    for device in entry.devices:
        catalog_entry = catalog.get(device.device_name)
        if catalog_entry is None:
            raise ValueError(f"device {device.device_name} is no longer in the device catalog")
        card = catalog_entry.card
        cards[card.uuid] = card
        shares[card.uuid] = shares.get(card.uuid, 0) + 1
        memory = catalog_entry.capacity.get(MEMORY, card.memory_bytes)
        cores = catalog_entry.capacity.get(CORES, FULL_CORES)
        if catalog_entry.multiple_allocations:
            shared.add(card.uuid)
        old = fixed.get(card.uuid, (0, 0))
        fixed[card.uuid] = (old[0] + memory, old[1] + cores)
    env = _spec_env(entry) if shared else {}
    order = [limit.device.uuid for limit in cuda_order([DeviceLimit(device=c) for c in cards.values()])]
    result: dict[str, tuple[int, int, int]] = {}
    for uuid, (published_memory, published_cores) in fixed.items():
        memory, cores = published_memory, published_cores
        index = order.index(uuid)
        memory_text = env.get(f"CUDA_DEVICE_MEMORY_LIMIT_{index}")
        if uuid in shared and memory_text is not None:
            if not memory_text.endswith("m"):
                raise ValueError(f"CUDA_DEVICE_MEMORY_LIMIT_{index}={memory_text!r} does not end in 'm'")
            memory = int(memory_text[:-1]) * MIB
            cores = int(env.get(f"CUDA_DEVICE_SM_LIMIT_{index}", str(FULL_CORES)))
        result[uuid] = (memory, cores, shares[uuid])
    return result


class NodeStateCollector(Collector):
    """Prepared claims, per-card allocation and per-claim usage, computed on every scrape."""

    def __init__(
        self,
        checkpoint: CheckpointStore,
        catalog: Callable[[], DeviceCatalog],
        settings: PreparerSettings,
        cards: Callable[[], Iterable[AcceleratorDevice]],
    ) -> None:
        self._checkpoint = checkpoint
        self._catalog = catalog
        self._settings = settings
        self._cards = cards

    def collect(self) -> Iterator[Metric]:
        node = self._settings.node_name
        entries = [e for e in self._checkpoint.entries() if e.state is ClaimState.PREPARE_COMPLETED]
        prepared = GaugeMetricFamily(
            "hdra_plugin_prepared_claims", "Claims prepared on this node", labels=["node"]
        )
        prepared.add_metric([node], len(entries))
        yield prepared
        yield from self._allocation(node, entries)
        yield from self._usage(node, entries)

    def _allocation(self, node: str, entries: list[CheckpointEntry]) -> Iterator[Metric]:
        totals = {card.uuid: _CardTotals(card) for card in self._cards()}
        catalog = self._catalog()
        for entry in entries:
            try:
                held = _claim_allocation(entry, catalog)
            except (OSError, ValueError, InterceptionError) as exc:
                log.warning(
                    "metrics: claim %s/%s (uid %s) left out: %s", entry.namespace, entry.name, entry.uid, exc
                )
                continue
            for uuid, (memory, cores, shares) in held.items():
                card = totals.get(uuid)
                if card is None:
                    continue
                card.memory += memory
                card.cores += cores
                card.shares += shares
        labels = ["node", "device", "deviceuuid"]
        families = (
            GaugeMetricFamily(
                "hdra_device_allocated_memory_bytes", "Memory allocated on the card", labels=labels
            ),
            GaugeMetricFamily(
                "hdra_device_allocated_cores_percent", "Cores allocated on the card", labels=labels
            ),
            GaugeMetricFamily("hdra_device_allocated_shares", "Prepared devices on the card", labels=labels),
            GaugeMetricFamily("hdra_device_memory_bytes", "The card's total memory", labels=labels),
        )
        for total in sorted(totals.values(), key=lambda t: t.card.name):
            key = [node, total.card.name, total.card.uuid]
            for family, value in zip(
                families, (total.memory, total.cores, total.shares, total.card.memory_bytes), strict=True
            ):
                family.add_metric(key, value)
        yield from families

    def _usage(self, node: str, entries: list[CheckpointEntry]) -> Iterator[Metric]:
        """Per claim and card: the sum over the claim's region files (one per attached PID namespace)."""
        labels = ["node", "namespace", "claim", "claim_uid", "deviceuuid"]
        used = GaugeMetricFamily(
            "hami_vgpu_memory_used_bytes", "Memory the claim's processes use (HAMi-core)", labels=labels
        )
        limit = GaugeMetricFamily(
            "hami_vgpu_memory_limit_bytes", "Memory limit HAMi-core enforces for the claim", labels=labels
        )
        util = GaugeMetricFamily(
            "hdra_claim_device_sm_utilization_percent",
            "SM utilisation of the claim's processes",
            labels=labels,
        )
        readable = GaugeMetricFamily(
            "hdra_claim_shared_region_readable",
            "1 when a HAMi-core region file of the claim parsed, 0 when it exists but cannot be read "
            "(torn, or a layout hdra does not know); one per region directory (container)",
            labels=["node", "namespace", "claim", "claim_uid", "region"],
        )
        for entry in entries:
            claim = [node, entry.namespace, entry.name, entry.uid]
            totals: dict[str, list[int]] = {}  # uuid -> [used, limit, sm util]
            for region_name, path in claim_region_files(self._settings.interception, entry.uid):
                try:
                    region = read_shared_region(path)
                except SharedRegionError as exc:
                    log.warning(
                        "metrics: shared region unreadable claim=%s/%s region=%s: %s",
                        entry.namespace,
                        entry.name,
                        region_name,
                        exc,
                    )
                    readable.add_metric([*claim, region_name], 0)
                    continue
                readable.add_metric([*claim, region_name], 1)
                seen: set[str] = set()
                for device in region.devices:
                    if not device.uuid or device.uuid in seen:
                        continue
                    seen.add(device.uuid)
                    total = totals.setdefault(device.uuid, [0, 0, 0])
                    total[0] += device.used_bytes
                    total[1] = max(total[1], device.limit_bytes)  # every region has the claim's limit
                    total[2] += device.sm_util_percent
            for uuid, (used_bytes, limit_bytes, sm_util) in sorted(totals.items()):
                used.add_metric([*claim, uuid], used_bytes)
                limit.add_metric([*claim, uuid], limit_bytes)
                util.add_metric([*claim, uuid], sm_util)
        yield from (used, limit, util, readable)


def node_registry(
    checkpoint: CheckpointStore,
    catalog: Callable[[], DeviceCatalog],
    settings: PreparerSettings,
    cards: Callable[[], Iterable[AcceleratorDevice]],
) -> tuple[CollectorRegistry, PluginMetrics]:
    """A fresh registry holding the operation metrics and the node state collector."""
    registry = CollectorRegistry()
    metrics = PluginMetrics(registry)
    registry.register(NodeStateCollector(checkpoint, catalog, settings, cards))
    return registry, metrics


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics %s " + format, self.address_string(), *args)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per scrape, as prometheus-client's own server does."""

    daemon_threads = True


Probe = Callable[[], tuple[bool, str]]
"""A probe endpoint: (ok, one line per check) — served as 200 or 503 with the text."""


class MetricsServer:
    """Serves ``registry`` in the Prometheus text format on ``host:port`` (0: any free port), and
    each of ``probes`` (path → ``Probe``, e.g. ``/healthz``, ``/readyz``) as plain text."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        probes: Mapping[str, Probe] | None = None,
    ) -> None:
        self._registry = registry
        self._probes = dict(probes or {})
        self._address = (host, port)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the metrics server is not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Bind and serve in a background thread; OSError when the address cannot be bound."""
        host, port = self._address
        self._server = make_server(
            host,
            port,
            self._app(make_wsgi_app(self._registry)),
            _ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="hdra-metrics", daemon=True
        )
        self._thread.start()

    def _app(self, metrics: Any) -> Any:
        probes = self._probes

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            probe = probes.get(environ.get("PATH_INFO", ""))
            if probe is None:
                return metrics(environ, start_response)
            try:
                ok, text = probe()
            except Exception as exc:  # a probe must answer, never drop the connection
                ok, text = False, f"probe failed: {type(exc).__name__}: {exc}"
            body = (text.rstrip("\n") + "\n").encode()
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(
                status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
            )
            return [body]

        return app

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._server = None


__all__ = [
    "InstrumentedPreparer",
    "MetricsServer",
    "NodeStateCollector",
    "PluginMetrics",
    "Probe",
    "node_registry",
]
