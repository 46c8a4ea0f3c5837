"""``hdra demo``: the whole publishing flow on an embedded cluster, no real cluster needed.

Starts the loopback API server in this process, creates one simulated node per mock profile, runs
the real slice publisher for each over the official client, then reads the ResourceSlices back
from the API server and prints what the scheduler would see: nodes, cards and capacities.
Later issues grow it into allocation, prepare and per-pod limits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client import V1Device, V1ResourceSlice

from dra_driver.cli.common import CommandError, format_table
from dra_driver.controller import PublishError, SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, BackendError, make_backend
from dra_driver.devices.registry import DRIVER_FOR_BACKEND
from dra_driver.kube import KubeClient, KubeError
from dra_driver.kube.features import DEFAULT_VERSION, KubeVersion, parse_feature_gates
from dra_driver.kube.quantity import parse_quantity
from dra_driver.slices import SharingMode, SliceOptions

DEMO_NODES: tuple[tuple[str, str], ...] = (
    ("node-a100", "a100x4"),
    ("node-h200", "h200x8"),
    ("node-mixed", "mixed"),
)
_GIB = 1024**3


@dataclass(frozen=True)
class CardRow:
    node: str
    device: str
    product: str
    memory_gib: float
    cores: str
    shares: str
    uuid: str


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="publish simulated nodes into an embedded cluster and show them"
    )
    parser.add_argument(
        "--mode",
        choices=[m.value for m in SharingMode],
        default=SharingMode.AUTO.value,
        help="sharing mode (default: auto)",
    )
    parser.add_argument("--kube-version", default=str(DEFAULT_VERSION), help="Kubernetes version to emulate")
    parser.add_argument("--feature-gates", default="", help="e.g. DRAConsumableCapacity=false")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        version = KubeVersion.parse(args.kube_version)
        gates = parse_feature_gates(args.feature_gates, version)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    driver = DRIVER_FOR_BACKEND["mock"]
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="hdra-demo-") as tmp,
        DevCluster(kube_version=version, feature_gates=gates) as cluster,
    ):
        kubeconfig = cluster.write_kubeconfig(Path(tmp) / "kubeconfig")
        client = KubeClient.from_kubeconfig(kubeconfig)
        print(f"hdra demo: embedded API server {cluster.url} (Kubernetes {version}), driver {driver}")
        modes: dict[str, SharingMode] = {}
        for node, profile in DEMO_NODES:
            cluster.create_node(node)
            try:
                devices = make_backend("mock", node_name=node, profile=profile).discover()
                publisher = SlicePublisher(
                    client,
                    driver=driver,
                    node_name=node,
                    devices=_fixed(devices),
                    mode=SharingMode(args.mode),
                    options=SliceOptions(kube_version=version),
                )
                result = publisher.sync()
            except (BackendError, PublishError, KubeError) as exc:
                raise CommandError(f"publishing node {node} failed: {exc}") from exc
            modes[node] = result.mode
            print(
                f"  {node}: {len(devices)} cards ({profile}), {result.mode.value} mode, "
                f"{len(result.created)} slice(s) created"
            )
        slices = client.resource_slices.list(field_selector=f"spec.driver={driver}").items
        rows = _card_rows(slices)
        print()
        print(
            format_table(
                ["NODE", "DEVICE", "PRODUCT", "MEMORY GiB", "CORES %", "SHARES", "UUID"],
                [[r.node, r.device, r.product, f"{r.memory_gib:g}", r.cores, r.shares, r.uuid] for r in rows],
            )
        )
        total_gib = sum(r.memory_gib for r in rows)
        print()
        print(
            f"{len(DEMO_NODES)} nodes, {len(rows)} devices in {len(slices)} ResourceSlices, "
            f"{total_gib:g} GiB of accelerator memory; done in {time.monotonic() - started:.1f}s"
        )
    return 0


def _card_rows(slices: Sequence[V1ResourceSlice]) -> list[CardRow]:
    rows: list[CardRow] = []
    for slice_ in slices:
        if slice_.spec is None or slice_.spec.node_name is None:
            continue
        rows.extend(_row(slice_.spec.node_name, device) for device in slice_.spec.devices or [])
    return sorted(rows, key=lambda r: (r.node, _device_sort_key(r.device)))


def _row(node: str, device: V1Device) -> CardRow:
    attributes = device.attributes or {}
    capacity = device.capacity or {}

    def text(name: str) -> str:
        value = attributes.get(name)
        return str(value.string) if value is not None and value.string is not None else "-"

    def amount(name: str) -> str:
        cap = capacity.get(name)
        return str(parse_quantity(cap.value)) if cap is not None else "-"

    memory = capacity.get("memory")
    memory_gib = float(parse_quantity(memory.value)) / _GIB if memory is not None else 0.0
    return CardRow(
        node=node,
        device=device.name,
        product=text("productName"),
        memory_gib=round(memory_gib, 2),
        cores=amount("cores"),
        shares=amount("shares"),
        uuid=text("uuid"),
    )


def _fixed(devices: list[AcceleratorDevice]) -> Callable[[], list[AcceleratorDevice]]:
    return lambda: devices


def _device_sort_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Natural order: gpu-2 before gpu-10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("-"))
