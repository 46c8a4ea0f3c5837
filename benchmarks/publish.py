"""Benchmark: publishing ResourceSlices for many nodes into the dev cluster.

Measures, each as the median of ``--repeat`` runs on a fresh dev cluster:
- ``publish``: N simulated nodes x 8 cards (mock profile h200x8, capacity mode) published by the
  real ``SlicePublisher`` through the official client — total seconds and API writes per second;
- ``resync``: a second sync of every node, which must make no write at all;
- ``create``: the dev cluster's raw create throughput for 1,000 eight-device ResourceSlices through
  the official client — the in-run baseline the publish rate is compared against.

Run: ``.venv/bin/python benchmarks/publish.py [--nodes 500] [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kubernetes.client import V1ResourceSlice

from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient
from dra_driver.slices import SharingMode, build_slices


@dataclass(frozen=True)
class Sample:
    publish_seconds: float
    publish_writes: int
    resync_seconds: float
    resync_writes: int
    create_seconds: float
    creates: int


def _devices(node: str) -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=node, profile="h200x8").discover()


def _one_run(nodes: int, creates: int, progress: bool) -> Sample:
    with tempfile.TemporaryDirectory() as tmp, DevCluster() as cluster:
        client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(Path(tmp) / "kubeconfig"))
        names = [f"bench-node-{i:04d}" for i in range(nodes)]
        inventories = {name: _devices(name) for name in names}
        for name in names:
            cluster.create_node(name)
        publishers = [
            SlicePublisher(
                client,
                driver="nvidia.hdra.io",
                node_name=name,
                devices=lambda name=name: inventories[name],  # type: ignore[misc]
                mode=SharingMode.CAPACITY,
            )
            for name in names
        ]
        start = time.perf_counter()
        writes = 0
        for i, publisher in enumerate(publishers, 1):
            writes += publisher.sync().writes
            if progress and i % 100 == 0:
                print(f"    published {i}/{nodes} nodes", file=sys.stderr)
        publish_seconds = time.perf_counter() - start

        start = time.perf_counter()
        resync_writes = sum(p.sync().writes for p in publishers)
        resync_seconds = time.perf_counter() - start

        template = build_slices(
            _devices("bench-raw"), driver="raw.hdra.io", node_name="bench-raw", mode=SharingMode.CAPACITY
        )[0]
        start = time.perf_counter()
        for i in range(creates):
            body = V1ResourceSlice.model_validate(template.model_dump(by_alias=True, exclude_none=True))
            assert body.metadata is not None and body.spec is not None
            body.metadata.name = f"raw-{i:05d}"
            body.spec.node_name = f"raw-node-{i:05d}"
            body.spec.pool.name = f"raw-node-{i:05d}"
            client.resource_slices.create(body)
        create_seconds = time.perf_counter() - start
    return Sample(publish_seconds, writes, resync_seconds, resync_writes, create_seconds, creates)


def run(nodes: int, repeat: int, creates: int, progress: bool = True) -> dict[str, float]:
    samples: list[Sample] = []
    for i in range(repeat):
        if progress:
            print(f"  run {i + 1}/{repeat}: {nodes} nodes x 8 cards, {creates} raw creates", file=sys.stderr)
        samples.append(_one_run(nodes, creates, progress))
    publish_s = statistics.median(s.publish_seconds for s in samples)
    writes = statistics.median(s.publish_writes for s in samples)
    create_s = statistics.median(s.create_seconds for s in samples)
    publish_rate = writes / publish_s
    create_rate = creates / create_s
    return {
        "nodes": nodes,
        "cards": nodes * 8,
        "publish_seconds": publish_s,
        "publish_writes": writes,
        "publish_writes_per_s": publish_rate,
        "resync_seconds": statistics.median(s.resync_seconds for s in samples),
        "resync_writes": max(s.resync_writes for s in samples),
        "raw_creates_per_s": create_rate,
        "publish_vs_raw_ratio": publish_rate / create_rate,
        "runs": repeat,
        "samples": [asdict(s) for s in samples],  # type: ignore[dict-item]
    }


def table(result: dict[str, float]) -> str:
    rows = [
        ("publish: nodes x cards", f"{int(result['nodes'])} x 8 = {int(result['cards'])}"),
        ("publish: total seconds (median)", f"{result['publish_seconds']:.2f}"),
        ("publish: API writes", f"{int(result['publish_writes'])}"),
        ("publish: writes/s (median)", f"{result['publish_writes_per_s']:.0f}"),
        ("resync: seconds (median)", f"{result['resync_seconds']:.2f}"),
        ("resync: API writes (max)", f"{int(result['resync_writes'])}"),
        ("dev cluster raw creates/s (median)", f"{result['raw_creates_per_s']:.0f}"),
        ("ratio publish writes/s : raw creates/s", f"{result['publish_vs_raw_ratio']:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  {'-' * 12}"]
    lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument(
        "--quick", action="store_true", help="a small run for CI: 20 nodes, 100 creates, 1 run"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.creates, args.repeat = 20, 100, 1
    result = run(args.nodes, args.repeat, args.creates)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["resync_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
