"""Benchmark: publishing ResourceSlices for many nodes, beside raw creates of the same slices.

Runs on the dev cluster, and on the real control plane (``dra_driver.realcluster``: etcd and
kube-apiserver of ``hdra-k8s``) where that binary is built (``make k8s``); the result names the
servers it ran on. Measures on each, as the median of ``--repeat`` runs on a fresh server:
- ``publish``: N simulated nodes x 8 cards (mock profile h200x8, capacity mode) published by the
  real ``SlicePublisher`` through the official client — total seconds and API writes per second;
- ``resync``: a second sync of every node, which must make no write at all;
- ``create``: raw creates of the same slices (the publisher's own ``build_slices`` output for the
  first ``--creates`` nodes, renamed to other nodes), built before the clock starts and created
  one by one through the same client — the in-run baseline the publish rate is divided by.

Run: ``.venv/bin/python benchmarks/publish.py [--nodes 500] [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient
from dra_driver.kube.models import ResourceSlice
from dra_driver.realcluster import RealCluster
from dra_driver.realcluster import binary as binaries
from dra_driver.realcluster.errors import RealClusterError
from dra_driver.slices import SharingMode, build_slices


@dataclass(frozen=True)
class Sample:
    publish_seconds: float
    publish_writes: int
    resync_seconds: float
    resync_writes: int
    create_seconds: float
    creates: int


@dataclass(frozen=True)
class Server:
    """An API server to publish into: its kubeconfig and how to create a Node on it."""

    kubeconfig: Path
    create_node: Callable[[str], object]


SERVERS = ("dev", "real")


@contextmanager
def _server(kind: str, work: Path) -> Iterator[Server]:
    if kind == "dev":
        with DevCluster() as dev:
            yield Server(dev.write_kubeconfig(work / "kubeconfig"), dev.create_node)
        return
    with RealCluster(work_dir=work / "real") as real:
        yield Server(real.write_kubeconfig(work / "kubeconfig"), real.create_node)


def real_cluster_built() -> bool:
    """Whether the real control plane's binary is there (``make k8s``); the dev cluster is always."""
    try:
        binaries.locate()
    except RealClusterError:
        return False
    return True


def _devices(node: str) -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=node, profile="h200x8").discover()


def _raw_bodies(count: int) -> list[ResourceSlice]:
    """The slices the publisher builds for ``count`` nodes, under another driver name."""
    return [
        ResourceSlice.model_validate(body.model_dump(by_alias=True, exclude_none=True))
        for i in range(count)
        for body in build_slices(
            _devices(f"raw-node-{i:05d}"),
            driver="raw.hdra.io",
            node_name=f"raw-node-{i:05d}",
            mode=SharingMode.CAPACITY,
        )
    ]


def _one_run(kind: str, nodes: int, creates: int, progress: bool) -> Sample:
    with tempfile.TemporaryDirectory() as tmp, _server(kind, Path(tmp)) as server:
        client = KubeClient.from_kubeconfig(server.kubeconfig)
        names = [f"bench-node-{i:04d}" for i in range(nodes)]
        inventories = {name: _devices(name) for name in names}
        for name in names:
            server.create_node(name)
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

        bodies = _raw_bodies(creates)
        start = time.perf_counter()
        for body in bodies:
            client.resource_slices.create(body)
        create_seconds = time.perf_counter() - start
        client.close()
    return Sample(publish_seconds, writes, resync_seconds, resync_writes, create_seconds, len(bodies))


def run_on(kind: str, nodes: int, repeat: int, creates: int, progress: bool = True) -> dict[str, Any]:
    samples: list[Sample] = []
    for i in range(repeat):
        if progress:
            print(
                f"  {kind} server, run {i + 1}/{repeat}: {nodes} nodes x 8 cards, "
                f"raw creates for {creates} nodes",
                file=sys.stderr,
            )
        samples.append(_one_run(kind, nodes, creates, progress))
    publish_s = statistics.median(s.publish_seconds for s in samples)
    writes = statistics.median(s.publish_writes for s in samples)
    create_s = statistics.median(s.create_seconds for s in samples)
    publish_rate = writes / publish_s
    create_rate = samples[0].creates / create_s
    return {
        "publish_seconds": publish_s,
        "publish_writes": writes,
        "publish_writes_per_s": publish_rate,
        "resync_seconds": statistics.median(s.resync_seconds for s in samples),
        "resync_writes": max(s.resync_writes for s in samples),
        "raw_creates_per_s": create_rate,
        "publish_vs_raw_ratio": publish_rate / create_rate,
        "runs": repeat,
        "samples": [asdict(s) for s in samples],
    }


def run(
    nodes: int, repeat: int, creates: int, progress: bool = True, servers: Sequence[str] = ("dev",)
) -> dict[str, Any]:
    result: dict[str, Any] = {"nodes": nodes, "cards": nodes * 8, "servers": ",".join(servers)}
    for kind in servers:
        result[kind] = run_on(kind, nodes, repeat if kind == "dev" else 1, creates, progress)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{int(result['nodes'])} nodes x 8 cards = {int(result['cards'])} cards"]
    for kind in result["servers"].split(","):
        one = result[kind]
        rows = [
            ("publish: total seconds (median)", f"{one['publish_seconds']:.2f}"),
            ("publish: API writes", f"{int(one['publish_writes'])}"),
            ("publish: writes/s (median)", f"{one['publish_writes_per_s']:.0f}"),
            ("resync: seconds (median)", f"{one['resync_seconds']:.2f}"),
            ("resync: API writes (max)", f"{int(one['resync_writes'])}"),
            ("raw creates of the same slices/s (median)", f"{one['raw_creates_per_s']:.0f}"),
            ("ratio publish writes/s : raw creates/s", f"{one['publish_vs_raw_ratio']:.2f}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines += ["", f"{kind} API server", f"{'metric'.ljust(width)}  value", f"{'-' * width}  {'-' * 12}"]
        lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs on the dev cluster (the real one: 1)")
    parser.add_argument("--creates", type=int, default=125, help="nodes whose slices are raw-created")
    parser.add_argument(
        "--servers",
        default=None,
        help="comma-separated of dev,real (default: dev, and real where hdra-k8s is built; --quick: dev)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small run for CI: 20 nodes, 10 nodes' raw creates, 1 run"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.creates, args.repeat = 20, 10, 1
    if args.servers is None:
        servers = ["dev"] + (["real"] if real_cluster_built() and not args.quick else [])
    else:
        servers = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
        unknown = sorted(set(servers) - set(SERVERS))
        if unknown:
            parser.error(f"unknown server(s) {unknown}; known: {list(SERVERS)}")
    result = run(args.nodes, args.repeat, args.creates, servers=servers)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(result[kind]["resync_writes"] == 0 for kind in servers) else 1


if __name__ == "__main__":
    sys.exit(main())
