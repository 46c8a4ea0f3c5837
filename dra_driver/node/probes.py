"""What the node agent tells Kubernetes and Prometheus about itself: probes and agent metrics.

Owns: ``liveness`` (every supervised loop's thread runs), ``readiness`` (a pool is published, the
kubelet sockets are served and every supervised loop's last outcome was a success) as the
``/healthz`` and ``/readyz`` probes next to ``/metrics``, and ``AgentCollector`` (per loop:
``hdra_plugin_loop_healthy``, ``hdra_plugin_loop_restarts_total``, ``hdra_plugin_loop_failures``;
``hdra_plugin_ready``, ``hdra_plugin_published_pool_version``, ``hdra_plugin_published_devices``).
Each probe line names one check and its cause, so ``curl :port/readyz`` says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dra_driver.runtime import LoopStatus, Supervisor
from dra_driver.slices import PublishedPool


def liveness(supervisor: Supervisor) -> tuple[bool, str]:
    statuses = supervisor.statuses()
    lines = [f"loop {s.name}: {'running' if s.alive else 'not running'}" for s in statuses]
    return all(s.alive for s in statuses), "\n".join(lines) or "no loops"


def readiness(
    supervisor: Supervisor, pool: Callable[[], PublishedPool], serving: Callable[[], bool]
) -> tuple[bool, str]:
    current = pool()
    checks = [
        (current.version > 0, f"published pool: version {current.version}, {len(current)} device(s)"),
        (serving(), "kubelet sockets: " + ("served" if serving() else "not served")),
    ]
    checks += [(s.healthy, _loop_line(s)) for s in supervisor.statuses()]
    return all(ok for ok, _ in checks), "\n".join(("ok " if ok else "FAIL ") + line for ok, line in checks)


def _loop_line(status: LoopStatus) -> str:
    if status.healthy:
        return f"loop {status.name}: ok ({status.restarts} restart(s))"
    state = "running" if status.alive else "not running"
    return f"loop {status.name}: {state}, {status.failures} failure(s) in a row: {status.last_error}"


class AgentCollector(Collector):
    """Loop and readiness metrics, computed on every scrape."""

    def __init__(
        self,
        supervisor: Supervisor,
        pool: Callable[[], PublishedPool],
        ready: Callable[[], tuple[bool, str]],
        node: str,
    ) -> None:
        self._supervisor = supervisor
        self._pool = pool
        self._ready = ready
        self._node = node

    def collect(self) -> Iterator[Metric]:
        labels = ["node", "loop"]
        healthy = GaugeMetricFamily(
            "hdra_plugin_loop_healthy",
            "1 when the loop runs and its last outcome was a success",
            labels=labels,
        )
        restarts = CounterMetricFamily(
            "hdra_plugin_loop_restarts", "Times the loop was restarted after it failed", labels=labels
        )
        failures = GaugeMetricFamily(
            "hdra_plugin_loop_failures", "Failures of the loop in a row", labels=labels
        )
        for status in self._supervisor.statuses():
            key = [self._node, status.name]
            healthy.add_metric(key, 1 if status.healthy else 0)
            restarts.add_metric(key, status.restarts)
            failures.add_metric(key, status.failures)
        yield from (healthy, restarts, failures)
        pool = self._pool()
        ready = GaugeMetricFamily("hdra_plugin_ready", "1 when /readyz answers 200", labels=["node"])
        ready.add_metric([self._node], 1 if self._ready()[0] else 0)
        version = GaugeMetricFamily(
            "hdra_plugin_published_pool_version", "Snapshots published by this process", labels=["node"]
        )
        version.add_metric([self._node], pool.version)
        devices = GaugeMetricFamily(
            "hdra_plugin_published_devices", "Devices in the published pool", labels=["node"]
        )
        devices.add_metric([self._node], len(pool))
        yield from (ready, version, devices)
