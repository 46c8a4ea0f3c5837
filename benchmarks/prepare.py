"""Benchmark: NodePrepareResources over the unix socket, and the node plugin's memory.

Runs ``hdra kubelet-plugin`` as a real process (mock h200x8 node, capacity mode) against an
in-process dev cluster; the fake kubelet registers it over the real registration socket and calls
the DRA v1 service. Measured in the same run:

- ``bare``: NodePrepareResources with no claims — the gRPC round trip with nothing to do, the
  in-run baseline;
- ``prepare 1``: one claim per call (then unprepared), p50/p99;
- ``prepare 50``: a batch of 50 claims per call, p50/p99 per call and per claim;
- plugin RSS at start and after ``--cycles`` prepare/unprepare cycles.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes.client import ResourceV1ResourceClaim

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.kube import KubeClient
from dra_driver.prepare import ClaimRef

DRIVER = "mock.hdra.io"
NODE = "bench-node"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _claim(kube: KubeClient, name: str, device: str) -> ClaimRef:
    body = ResourceV1ResourceClaim.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": DRIVER}}]}},
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
                        "driver": DRIVER,
                        "pool": NODE,
                        "device": device,
                        "shareID": str(uuid.uuid4()),
                        "consumedCapacity": {"memory": "3000Mi", "cores": "25", "shares": "1"},
                    }
                ]
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [NODE]}]}
                ]
            },
        }
    }
    stored = kube.resource_claims.update_status("default", ResourceV1ResourceClaim.model_validate(data))
    assert stored.metadata is not None and stored.metadata.uid is not None
    return ClaimRef(stored.metadata.uid, "default", name)


def run(cycles: int, rounds: int, progress: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hdra-bench-") as tmp_name, DevCluster() as cluster:
        tmp = Path(tmp_name)
        cluster.create_node(NODE)
        kubeconfig = cluster.write_kubeconfig(tmp / "kubeconfig")
        kube = KubeClient.from_kubeconfig(kubeconfig)
        kubelet = FakeKubelet(tmp / "registry")
        kubelet.start()
        argv = [
            sys.executable,
            "-m",
            "dra_driver.cli.main",
            "--log-level",
            "warning",
            "kubelet-plugin",
            "--kubeconfig",
            str(kubeconfig),
            "--node-name",
            NODE,
            "--backend",
            "mock",
            "--profile",
            "h200x8",
            "--mode",
            "capacity",
            "--plugin-dir",
            str(tmp / "plugin"),
            "--registry-dir",
            str(tmp / "registry"),
            "--cdi-dir",
            str(tmp / "cdi"),
            "--state-dir",
            str(tmp / "state"),
            "--library-dir",
            str(tmp / "lib"),
            "--lock-dir",
            str(tmp / "lock"),
        ]
        plugin = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        try:
            kubelet.wait_for_plugin(DRIVER, timeout=30.0)
            rss_start = _rss_mib(plugin.pid)
            claims = [_claim(kube, f"c{i:03d}", f"gpu-{i % 8}") for i in range(50)]
            single = claims[0]

            def one_cycle() -> None:
                kubelet.prepare(DRIVER, [single])
                kubelet.unprepare(DRIVER, [single])

            bare = _timed(lambda: kubelet.prepare(DRIVER, []), rounds)
            one_cycle()  # warm-up
            one: list[float] = []
            for _ in range(rounds):
                start = time.perf_counter()
                kubelet.prepare(DRIVER, [single])
                one.append((time.perf_counter() - start) * 1000.0)
                kubelet.unprepare(DRIVER, [single])
            batch: list[float] = []
            for _ in range(max(3, rounds // 10)):
                start = time.perf_counter()
                answers = kubelet.prepare(DRIVER, claims)
                batch.append((time.perf_counter() - start) * 1000.0)
                assert all(not a.error for a in answers.values()), answers
                kubelet.unprepare(DRIVER, claims)
            for i in range(cycles):
                one_cycle()
                if progress and (i + 1) % 250 == 0:
                    print(f"    {i + 1}/{cycles} prepare/unprepare cycles", file=sys.stderr)
            rss_end = _rss_mib(plugin.pid)
        finally:
            plugin.terminate()
            plugin.wait(timeout=30)
            kubelet.stop()
    return {
        "bare_p50_ms": statistics.median(bare),
        "bare_p99_ms": _percentile(bare, 0.99),
        "prepare1_p50_ms": statistics.median(one),
        "prepare1_p99_ms": _percentile(one, 0.99),
        "prepare50_p50_ms": statistics.median(batch),
        "prepare50_p99_ms": _percentile(batch, 0.99),
        "prepare50_per_claim_ms": statistics.median(batch) / 50,
        "ratio_prepare1_to_bare": statistics.median(one) / statistics.median(bare),
        "rss_start_mib": rss_start,
        "rss_after_cycles_mib": rss_end,
        "cycles": cycles,
        "rounds": rounds,
    }


def table(result: dict[str, float]) -> str:
    rows = [
        ("bare gRPC round trip (0 claims)", result["bare_p50_ms"], result["bare_p99_ms"], "1.00"),
        (
            "NodePrepareResources, 1 claim",
            result["prepare1_p50_ms"],
            result["prepare1_p99_ms"],
            f"{result['ratio_prepare1_to_bare']:.1f}",
        ),
        (
            "NodePrepareResources, 50 claims",
            result["prepare50_p50_ms"],
            result["prepare50_p99_ms"],
            f"{result['prepare50_p50_ms'] / result['bare_p50_ms']:.1f}",
        ),
    ]
    lines = [
        f"{'call':34}  {'p50 ms':>8}  {'p99 ms':>8}  {'x bare':>7}",
        f"{'-' * 34}  {'-' * 8}  {'-' * 8}  {'-' * 7}",
    ]
    lines += [f"{name:34}  {p50:8.2f}  {p99:8.2f}  {ratio:>7}" for name, p50, p99, ratio in rows]
    lines.append("")
    lines.append(f"50-claim batch: {result['prepare50_per_claim_ms']:.2f} ms per claim")
    lines.append(
        f"plugin RSS: {result['rss_start_mib']:.1f} MiB at start, "
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
