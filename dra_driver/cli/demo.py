"""``hdra demo``: the whole publishing flow on an embedded cluster, no real cluster needed.

Starts the loopback API server in this process, creates one simulated node per mock profile, runs
the real slice publisher for each over the official client, then reads the ResourceSlices back
from the API server and prints what the scheduler would see: nodes, cards and capacities.
Later issues grow it into allocation, prepare and per-pod limits.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter, defaultdict
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
_PARTITION = re.compile(r"-p(\d+)-\d+$")
_REPLICA = re.compile(r"-r\d+$")


@dataclass(frozen=True)
class CardRow:
    """One physical card as the scheduler sees it, however many devices it is published as."""

    node: str
    card: str
    product: str
    memory_gib: float
    devices: int
    sharing: str
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
    parser.set_defaults(run=run, default_log_level="warning")


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
        rows = card_rows(slices)
        print()
        print(
            format_table(
                ["NODE", "CARD", "PRODUCT", "MEMORY GiB", "DEVICES", "SHARING", "UUID"],
                [
                    [r.node, r.card, r.product, f"{r.memory_gib:g}", r.devices, r.sharing, r.uuid]
                    for r in rows
                ],
            )
        )
        total_gib = sum(r.memory_gib for r in rows)
        device_count = sum(r.devices for r in rows)
        print()
        elapsed = time.monotonic() - started
        print(
            f"{len(DEMO_NODES)} nodes, {len(rows)} cards published as {device_count} devices in "
            f"{len(slices)} ResourceSlices, {total_gib:g} GiB of accelerator memory; done in {elapsed:.2f}s"
        )
    return 0


def card_rows(slices: Sequence[V1ResourceSlice]) -> list[CardRow]:
    """Group published devices by physical card (node + uuid) and describe how each is shared."""
    groups: dict[tuple[str, str], list[V1Device]] = defaultdict(list)
    for slice_ in slices:
        if slice_.spec is None or slice_.spec.node_name is None:
            continue
        for device in slice_.spec.devices or []:
            groups[(slice_.spec.node_name, _text(device, "uuid"))].append(device)
    rows = [_card_row(node, uuid, devices) for (node, uuid), devices in groups.items()]
    return sorted(rows, key=lambda r: (r.node, _device_sort_key(r.card)))


def _card_row(node: str, uuid: str, devices: list[V1Device]) -> CardRow:
    card = min((d.name for d in devices), key=len).split("-r")[0]
    memory = max(_amount(d, "memory") for d in devices)
    replicas = [d for d in devices if _REPLICA.search(d.name)]
    fractions = Counter(int(m.group(1)) for d in devices if (m := _PARTITION.search(d.name)))
    if any(d.allow_multiple_allocations for d in devices):
        sharing = f"{_amount(devices[0], 'shares'):g} shares by memory and cores"
    elif fractions:
        sharing = "whole or " + ", ".join(f"{n}x 1/{f}" for f, n in sorted(fractions.items()))
    elif replicas:
        memory *= len(replicas)
        sharing = f"{len(replicas)} replicas of {_amount(replicas[0], 'memory') / _GIB:g} GiB"
    else:
        sharing = "whole card only"
    return CardRow(
        node=node,
        card=card,
        product=_text(devices[0], "productName"),
        memory_gib=round(memory / _GIB, 2),
        devices=len(devices),
        sharing=sharing,
        uuid=uuid,
    )


def _text(device: V1Device, name: str) -> str:
    value = (device.attributes or {}).get(name)
    return str(value.string) if value is not None and value.string is not None else "-"


def _amount(device: V1Device, name: str) -> float:
    capacity = (device.capacity or {}).get(name)
    return float(parse_quantity(capacity.value)) if capacity is not None else 0.0


def _fixed(devices: list[AcceleratorDevice]) -> Callable[[], list[AcceleratorDevice]]:
    return lambda: devices


def _device_sort_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Natural order: gpu-2 before gpu-10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("-"))
