"""Benchmark: NodePrepareResources over the unix socket, against a Go peer, and the plugin's memory.

Runs, against one in-process dev cluster and in the same run, three node plugins, each driven by
its own fake kubelet (the real registration flow, then the DRA v1 service):

- ``hdra`` — ``hdra kubelet-plugin`` (mock h200x8 node, capacity mode) with its state dir on the
  temp dir's filesystem (normally disk) and its CDI dir on tmpfs (``/dev/shm``), as on a node
  (``/var/lib/hdra`` and ``/var/run/cdi``);
- ``hdra_tmpfs`` — the same with the state dir on tmpfs too;
- ``peer`` — ``tools/k8s/cmd/peer-driver``: a Go driver on the upstream kubelet-plugin helper
  (``k8s.io/dynamic-resource-allocation/kubeletplugin``) that writes a CDI spec and a checkpoint
  as kubernetes-sigs/dra-example-driver does, with the same layout as ``hdra``. It is built into
  the cache by ``dra_driver.realcluster.binary`` (``tools/build_k8s.py --command peer-driver``),
  with client-go's client-side rate limit lifted (its default 5 requests/s would be measured).

Each round calls every plugin in turn (interleaved, so machine noise hits all alike):

- ``bare``: NodePrepareResources with no claims — the gRPC round trip with nothing to do;
- ``prepare1``: one claim per call (then unprepared), p50/p99;
- ``prepare50``: a batch of 50 claims per call, p50/p99 per call.

Ratios: each hdra p50/p99 divided by the same metric of the peer, and ``prepare1`` divided by the
plugin's own ``bare``. Also reported: the filesystem type of the state dirs and the fsync latency
measured there (4 KiB write + fsync), and hdra's RSS at start and after ``--cycles``
prepare/unprepare cycles.

Run: ``.venv/bin/python benchmarks/prepare.py [--cycles 1000] [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.kube import KubeClient
from dra_driver.kube.models import ResourceClaim
from dra_driver.prepare import ClaimRef
from dra_driver.realcluster import binary

HDRA_DRIVER = "mock.hdra.io"
PEER_DRIVER = "peer.hdra.io"
BATCH = 50
TMPFS = Path("/dev/shm")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def filesystem_of(path: Path) -> str:
    """The type of the filesystem ``path`` lives on (longest mount point of /proc/self/mountinfo)."""
    target = str(path.resolve())
    best, kind = "", "unknown"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        mount_point = left.split()[4].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, right.split()[0]
    return kind


def fsync_latency_ms(directory: Path, runs: int) -> float:
    """Median time of writing 4 KiB to a file and fsyncing it, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    samples = []
    data = os.urandom(4096)
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(runs):
            os.lseek(fd, 0, os.SEEK_SET)
            start = time.perf_counter()
            os.write(fd, data)
            os.fsync(fd)
            samples.append((time.perf_counter() - start) * 1000.0)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(samples)


def _claim(kube: KubeClient, name: str, driver: str, pool: str, device: str) -> ClaimRef:
    body = ResourceClaim.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": driver}}]}},
        }
    )
    created = kube.resource_claims.create("default", body)
    data: dict[str, Any] = created.model_dump(by_alias=True, exclude_none=True, mode="json")
    data["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {
                        "request": "gpu",
                        "driver": driver,
                        "pool": pool,
                        "device": device,
                        "shareID": str(uuid.uuid4()),
                        "consumedCapacity": {"memory": "3000Mi", "cores": "25", "shares": "1"},
                    }
                ]
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [pool]}]}
                ]
            },
        }
    }
    stored = kube.resource_claims.update_status("default", ResourceClaim.model_validate(data))
    assert stored.metadata is not None and stored.metadata.uid is not None
    return ClaimRef(stored.metadata.uid, "default", name)


@dataclass
class Target:
    """One plugin under test, its kubelet and its claims, and the samples taken from it."""

    name: str
    driver: str
    kubelet: FakeKubelet
    process: subprocess.Popen[bytes]
    claims: list[ClaimRef]
    bare: list[float] = field(default_factory=list)
    one: list[float] = field(default_factory=list)
    batch: list[float] = field(default_factory=list)

    def call_bare(self) -> None:
        self.bare.append(_timed(lambda: self.kubelet.prepare(self.driver, [])))

    def call_one(self) -> None:
        single = self.claims[:1]
        self.one.append(_timed(lambda: _prepared(self, single)))
        self.kubelet.unprepare(self.driver, single)

    def call_batch(self) -> None:
        self.batch.append(_timed(lambda: _prepared(self, self.claims)))
        self.kubelet.unprepare(self.driver, self.claims)

    def summary(self) -> dict[str, float]:
        return {
            "bare_p50_ms": statistics.median(self.bare),
            "bare_p99_ms": _percentile(self.bare, 0.99),
            "prepare1_p50_ms": statistics.median(self.one),
            "prepare1_p99_ms": _percentile(self.one, 0.99),
            "prepare50_p50_ms": statistics.median(self.batch),
            "prepare50_p99_ms": _percentile(self.batch, 0.99),
            "ratio_prepare1_to_bare": statistics.median(self.one) / statistics.median(self.bare),
        }


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def _prepared(target: Target, claims: list[ClaimRef]) -> None:
    answers = target.kubelet.prepare(target.driver, claims)
    failed = {uid: a.error for uid, a in answers.items() if a.error}
    if failed:
        raise RuntimeError(f"{target.name}: prepare failed: {failed}")


def _hdra_argv(kubeconfig: Path, node: str, state: Path, cdi: Path, work: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dra_driver.cli.main",
        "--log-level",
        "warning",
        "kubelet-plugin",
        "--kubeconfig",
        str(kubeconfig),
        "--node-name",
        node,
        "--backend",
        "mock",
        "--profile",
        "h200x8",
        "--mode",
        "capacity",
        "--plugin-dir",
        str(work / "plugin"),
        "--registry-dir",
        str(work / "registry"),
        "--cdi-dir",
        str(cdi),
        "--state-dir",
        str(state),
        "--library-dir",
        str(work / "lib"),
        "--lock-dir",
        str(work / "lock"),
    ]


def _peer_argv(kubeconfig: Path, node: str, state: Path, cdi: Path, work: Path) -> list[str]:
    return [
        str(binary.build(command=binary.PEER_DRIVER).binary),
        "--kubeconfig",
        str(kubeconfig),
        "--driver-name",
        PEER_DRIVER,
        "--node-name",
        node,
        "--plugin-dir",
        str(work / "plugin"),
        "--registry-dir",
        str(work / "registry"),
        "--cdi-dir",
        str(cdi),
        "--state-dir",
        str(state),
        # client-go's default 5 requests/s would measure its rate limiter, not the driver.
        "--kube-api-qps",
        "10000",
        "--kube-api-burst",
        "10000",
    ]


@contextmanager
def _started(
    stack: ExitStack, name: str, driver: str, argv: list[str], *, work: Path, claims: list[ClaimRef]
) -> Iterator[Target]:
    kubelet = FakeKubelet(work / "registry")
    kubelet.start()
    stack.callback(kubelet.stop)
    process = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        kubelet.wait_for_plugin(driver, timeout=60.0)
        yield Target(name, driver, kubelet, process, claims)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(cycles: int, rounds: int, progress: bool = True) -> dict[str, Any]:
    with ExitStack() as stack:
        disk = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hdra-bench-")))
        shm = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hdra-bench-", dir=TMPFS)))
        cluster = stack.enter_context(DevCluster())
        kubeconfig = cluster.write_kubeconfig(disk / "kubeconfig")
        kube = KubeClient.from_kubeconfig(kubeconfig)
        layouts = {  # name: (driver, state dir, CDI dir, argv builder)
            "hdra": (HDRA_DRIVER, disk / "hdra" / "state", shm / "hdra" / "cdi", _hdra_argv),
            "hdra_tmpfs": (HDRA_DRIVER, shm / "tmpfs" / "state", shm / "tmpfs" / "cdi", _hdra_argv),
            "peer": (PEER_DRIVER, disk / "peer" / "state", shm / "peer" / "cdi", _peer_argv),
        }
        targets: dict[str, Target] = {}
        for name, (driver, state, cdi, argv) in layouts.items():
            node = f"bench-{name.replace('_', '-')}"
            cluster.create_node(node)
            work = disk / name
            claims = [_claim(kube, f"{node}-c{i:03d}", driver, node, f"gpu-{i % 8}") for i in range(BATCH)]
            targets[name] = stack.enter_context(
                _started(
                    stack, name, driver, argv(kubeconfig, node, state, cdi, work), work=work, claims=claims
                )
            )
        rss_start = _rss_mib(targets["hdra"].process.pid)
        for target in targets.values():  # warm-up: connections, caches, first files
            target.call_one()
            target.one.clear()
        for _ in range(rounds):
            for target in targets.values():
                target.call_bare()
        for _ in range(rounds):
            for target in targets.values():
                target.call_one()
        for _ in range(max(3, rounds // 10)):
            for target in targets.values():
                target.call_batch()
        hdra = targets["hdra"]
        for i in range(cycles):
            hdra.kubelet.prepare(HDRA_DRIVER, hdra.claims[:1])
            hdra.kubelet.unprepare(HDRA_DRIVER, hdra.claims[:1])
            if progress and (i + 1) % 250 == 0:
                print(f"    {i + 1}/{cycles} prepare/unprepare cycles", file=sys.stderr)
        rss_end = _rss_mib(hdra.process.pid)
        storage = {
            "disk_filesystem": filesystem_of(disk),
            "tmpfs_filesystem": filesystem_of(shm),
            "disk_fsync_ms": fsync_latency_ms(disk / "probe", 50),
            "tmpfs_fsync_ms": fsync_latency_ms(shm / "probe", 50),
        }
    summaries = {name: target.summary() for name, target in targets.items()}
    peer = summaries["peer"]
    ratios: dict[str, float] = {}
    for name in ("hdra", "hdra_tmpfs"):
        for metric in ("prepare1_p50_ms", "prepare1_p99_ms", "prepare50_p50_ms", "prepare50_p99_ms"):
            ratios[f"{name}_vs_peer_{metric.removesuffix('_ms')}"] = summaries[name][metric] / peer[metric]
    return {
        **summaries,
        "peer_ratio": ratios,
        "storage": storage,
        "rss_start_mib": rss_start,
        "rss_after_cycles_mib": rss_end,
        "cycles": cycles,
        "rounds": rounds,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'plugin':11}  {'call':16}  {'p50 ms':>8}  {'p99 ms':>8}  {'x bare':>7}  {'p50 x peer':>10}",
        f"{'-' * 11}  {'-' * 16}  {'-' * 8}  {'-' * 8}  {'-' * 7}  {'-' * 10}",
    ]
    peer = result["peer"]
    for name in ("hdra", "hdra_tmpfs", "peer"):
        summary = result[name]
        for call, label in (("bare", "0 claims (bare)"), ("prepare1", "1 claim"), ("prepare50", "50 claims")):
            p50, p99 = summary[f"{call}_p50_ms"], summary[f"{call}_p99_ms"]
            lines.append(
                f"{name:11}  {label:16}  {p50:8.2f}  {p99:8.2f}  {p50 / summary['bare_p50_ms']:7.1f}"
                f"  {p50 / peer[f'{call}_p50_ms']:10.2f}"
            )
    storage = result["storage"]
    lines.append("")
    lines.append(
        f"state dir: {storage['disk_filesystem']} (fsync {storage['disk_fsync_ms']:.3f} ms); "
        f"tmpfs: {storage['tmpfs_filesystem']} (fsync {storage['tmpfs_fsync_ms']:.3f} ms)"
    )
    lines.append(
        f"hdra RSS: {result['rss_start_mib']:.1f} MiB at start, "
        f"{result['rss_after_cycles_mib']:.1f} MiB after {int(result['cycles'])} prepare/unprepare cycles"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="a small run for CI: 50 cycles, 20 rounds")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.cycles, args.rounds = 50, 20
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    result = run(args.cycles, args.rounds)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
