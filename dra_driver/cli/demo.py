"""``hdra demo``: the whole flow on an embedded cluster, no real cluster needed.

1. the loopback API server starts in this process;
2. three simulated nodes (mock profiles a100x4, h200x8, mixed — or, with ``--backend nvidia``,
   this machine's cards) each run the real node plugin: slice publisher, NodePreparer, gRPC on
   real unix sockets, registered by a fake kubelet;
3. the DeviceClass and the built-in workloads (pods + ResourceClaims) are created through the API;
4. hdra's allocator (the kube-scheduler's rules) places each pod's claims on one node and writes
   ``status.allocation`` and ``reservedFor``; the fake kubelet calls NodePrepareResources;
5. per pod: node, card, memory, cores and the ``CUDA_*`` env its containers get; per card: what is
   used. Pending pods show the reason. Everything it wrote lives in a temp dir removed at the end:
   under ``$TMPDIR`` when that is set, else on tmpfs (``/dev/shm``) where the machine has it, so the
   nodes' directories, checkpoints, CDI specs and their removal never wait on a disk's journal
   (0.15-0.2 s of the run on ext4 under load; issue 17 item 6), else in the system temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from dra_driver.cli.common import CommandError
from dra_driver.cli.demo_nodes import DemoNode, start_node, stop_node
from dra_driver.cli.demo_report import render_json, render_text
from dra_driver.cli.demo_run import DemoRun, run_workloads
from dra_driver.cli.demo_workloads import RequestStyle, builtin_workloads, vendor_workloads
from dra_driver.devcluster import DevCluster
from dra_driver.devices import BackendError
from dra_driver.devices.registry import DRIVER_FOR_BACKEND
from dra_driver.kube import KubeClient, KubeError
from dra_driver.kube.features import DEFAULT_VERSION, FeatureGate, KubeVersion, parse_feature_gates
from dra_driver.sim import Policy
from dra_driver.sim.gates import FeatureGates
from dra_driver.slices import SharingMode, SliceOptions

# Linux's tmpfs for shared memory: files in memory, nothing to flush to a disk.
MEMORY_TEMP_DIR = Path("/dev/shm")  # noqa: S108 - only a parent: mkdtemp makes a private, unique dir

# (node, mock profile, driver): three NVIDIA-like nodes, and one node each of two other vendors.
MOCK_NODES: tuple[tuple[str, str | None, str], ...] = (
    ("node-a100", "a100x4", "mock.hdra.io"),
    ("node-h200", "h200x8", "mock.hdra.io"),
    ("node-mixed", "mixed", "mock.hdra.io"),
    ("node-ascend", "ascend910bx8", "ascend.hdra.io"),
    ("node-mlu", "mlu370x4", "cambricon.hdra.io"),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole flow on an embedded cluster and show the placements"
    )
    parser.add_argument(
        "--backend", choices=["mock", "nvidia"], default="mock", help="mock nodes or this machine's GPUs"
    )
    parser.add_argument(
        "--mode",
        choices=[m.value for m in SharingMode if m is not SharingMode.EXCLUSIVE],
        default=SharingMode.AUTO.value,
        help="sharing mode (default: auto)",
    )
    parser.add_argument(
        "--policy", choices=[p.value for p in Policy], default="binpack", help="card and node policy"
    )
    parser.add_argument("--kube-version", default=str(DEFAULT_VERSION), help="Kubernetes version to emulate")
    parser.add_argument("--feature-gates", default="", help="e.g. DRAConsumableCapacity=false")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run, default_log_level="warning")


def run(args: argparse.Namespace) -> int:
    try:
        version = KubeVersion.parse(args.kube_version)
        gates = parse_feature_gates(args.feature_gates, version)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    started = time.monotonic()
    progress = sys.stderr if args.json else sys.stdout
    nodes: list[DemoNode] = []
    with (
        tempfile.TemporaryDirectory(prefix="hdra-demo-", dir=scratch_root()) as tmp,
        DevCluster(kube_version=version, feature_gates=gates) as cluster,
    ):
        client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(Path(tmp) / "kubeconfig"))
        print(f"hdra demo: embedded API server {cluster.url} (Kubernetes {version})", file=progress)
        try:
            for name, profile, driver in _node_specs(args.backend):
                node = start_node(
                    cluster,
                    client,
                    Path(tmp),
                    name=name,
                    backend=args.backend,
                    profile=profile,
                    driver=driver,
                    mode=SharingMode(args.mode),
                    options=SliceOptions(kube_version=version),
                )
                nodes.append(node)
                print(
                    f"  {name}: {len(node.devices)} card(s) ({profile or 'local'}), {node.mode.value} mode, "
                    f"driver {driver} registered at {node.server.registration_socket.name}",
                    file=progress,
                )
            nvidia_like = [
                n for n in nodes if n.driver in (DRIVER_FOR_BACKEND["mock"], DRIVER_FOR_BACKEND["nvidia"])
            ]
            style = RequestStyle(
                consumable_capacity=cluster.feature_gates[FeatureGate.DRA_CONSUMABLE_CAPACITY]
            )
            workloads = builtin_workloads(nvidia_like[0].driver, _pinned_card(nvidia_like), style)
            drivers = {n.driver for n in nodes}
            workloads += [w for w in vendor_workloads(style) if set(w.drivers()) <= drivers]
            sim_gates = FeatureGates.for_version(str(version), args.feature_gates)
            result: DemoRun = run_workloads(
                client, nodes, workloads=workloads, policy=Policy(args.policy), gates=sim_gates
            )
        except (BackendError, KubeError, ValueError) as exc:
            raise CommandError(f"demo failed: {exc}") from exc
        finally:
            for node in nodes:
                stop_node(node)
    result.seconds = time.monotonic() - started
    if args.json:
        print(json.dumps(render_json(result), indent=2))
    else:
        print(render_text(result))
    return 0


def scratch_root() -> Path:
    """Where the demo's temp dir goes (module docstring): ``$TMPDIR``, else ``/dev/shm``, else the
    system temp dir."""
    if not os.environ.get("TMPDIR") and os.access(MEMORY_TEMP_DIR, os.W_OK | os.X_OK):
        return MEMORY_TEMP_DIR
    return Path(tempfile.gettempdir())


def _node_specs(backend: str) -> list[tuple[str, str | None, str]]:
    if backend == "nvidia":
        return [(socket.gethostname().lower(), None, DRIVER_FOR_BACKEND["nvidia"])]
    return list(MOCK_NODES)


def _pinned_card(nodes: list[DemoNode]) -> str:
    """The UUID-selection workload names the last card of the last NVIDIA-like node (an H200)."""
    return nodes[-1].devices[-1].uuid
