"""Benchmark: what hdra's slices cost the real kube-scheduler, per sharing mode (issue 17 item 7).

For each of ``capacity``, ``partitions``, ``replicas`` and ``exclusive``, on a fresh real control
plane (``dra_driver.realcluster``: etcd, kube-apiserver, kube-controller-manager with the
resourceclaim controller, kube-scheduler; no extender, the release's feature gates, and the
scheduler's client-side API rate limit — 50 requests/s by default, which caps every mode at about
13 pods/s — lifted to ``SCHEDULER_QPS``, so the table shows the scheduler's own cost):

1. ``--nodes`` kubelet-less Ready Nodes, each publishing 8 mock H200 cards (profile h200x8) through
   hdra's ``SlicePublisher`` in that mode, and the chart's DeviceClass;
2. ``--pods`` pods, each with one claim from one ResourceClaimTemplate: a one-card share (memory
   >= 16 GiB and 12 % of the cores by consumable capacity in ``capacity``, a partition of at least
   16 GiB in ``partitions``, one replica in ``replicas``) or one whole card in ``exclusive``. The
   pods are created with a scheduling gate, so the claims the resourceclaim controller makes for
   them are in place before any scheduling starts;
3. the gates are removed from every pod (one merge patch each, 16 at a time), and the clock
   runs from the first removal until the last pod is bound (``spec.nodeName`` set), or for at most
   ``--window`` seconds in a mode where the scheduler is slower than that: pods bound per second
   of the real scheduler with the real DynamicResources plugin allocating every claim.

Reported per mode: pods/s and its ratio to ``exclusive`` (the same stream on whole cards), the
slices and devices published, and seconds to publish. Needs the ``hdra-k8s`` binary (``make
k8s``); without it the benchmark fails naming the cause.

Run: ``.venv/bin/python benchmarks/scheduler.py [--nodes 100] [--pods 400] [--window 180] [--quick]
[--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes.client import CoreV1Api

from dra_driver.controller import SlicePublisher
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient
from dra_driver.kube.models import DeviceClass, Pod, ResourceClaimTemplate
from dra_driver.realcluster import RealCluster, RealClusterError
from dra_driver.realcluster import binary as binaries
from dra_driver.rules import CORES, MEMORY
from dra_driver.slices import SharingMode
from dra_driver.slices.attributes import whole_card_selector

DRIVER = "nvidia.hdra.io"
NAMESPACE = "default"
GATE = "hdra.io/benchmark-hold"
MODES = (SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS, SharingMode.EXCLUSIVE)
SHARE_MEMORY = "16Gi"
SHARE_CORES = "12"
BIND_TIMEOUT_S = 600.0
SCHEDULER_QPS = 1000.0
UNGATE_WORKERS = 16


def request_for(mode: SharingMode) -> dict[str, Any]:
    """The one device request of a pod's claim in ``mode``."""
    exactly: dict[str, Any] = {"deviceClassName": DRIVER}
    if mode is SharingMode.CAPACITY:
        exactly["capacity"] = {"requests": {MEMORY: SHARE_MEMORY, CORES: SHARE_CORES}}
    elif mode is SharingMode.PARTITIONS:
        memory = f'device.capacity["{DRIVER}"].{MEMORY}.compareTo(quantity("{SHARE_MEMORY}")) >= 0'
        exactly["selectors"] = [{"cel": {"expression": memory}}]
    elif mode is SharingMode.EXCLUSIVE:
        exactly["selectors"] = [{"cel": {"expression": whole_card_selector(DRIVER)}}]
    return {"name": "gpu", "exactly": exactly}


def _template(mode: SharingMode) -> ResourceClaimTemplate:
    return ResourceClaimTemplate.model_validate(
        {
            "metadata": {"name": "share", "namespace": NAMESPACE},
            "spec": {"spec": {"devices": {"requests": [request_for(mode)]}}},
        }
    )


def _pod(index: int) -> Pod:
    return Pod.model_validate(
        {
            "metadata": {"name": f"share-{index:05d}", "namespace": NAMESPACE},
            "spec": {
                "schedulingGates": [{"name": GATE}],
                "containers": [
                    {"name": "app", "image": "busybox", "resources": {"claims": [{"name": "gpu"}]}}
                ],
                "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "share"}],
            },
        }
    )


def _ungate(core: CoreV1Api, index: int) -> None:
    """Remove the pod's scheduling gates (only ours is there) with one JSON merge patch."""
    core.patch_namespaced_pod(
        f"share-{index:05d}",
        NAMESPACE,
        {"spec": {"schedulingGates": None}},
        _content_type="application/merge-patch+json",
        _request_timeout=30,
    )


def _fixed(cards: list[AcceleratorDevice]) -> Callable[[], list[AcceleratorDevice]]:
    return lambda: cards


def _count(kube: KubeClient, field_selector: str) -> int:
    return len(kube.pods.list(NAMESPACE, field_selector=field_selector).items)


def _claims(kube: KubeClient) -> int:
    return len(kube.resource_claims.list(NAMESPACE).items)


def _wait(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"scheduler benchmark: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


def run_mode(
    mode: SharingMode, nodes: int, pods: int, window_s: float, progress: bool = True
) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="hdra-bench-sched-") as tmp,
        RealCluster(work_dir=Path(tmp) / "cluster", scheduler_qps=SCHEDULER_QPS) as cluster,
    ):
        kube = KubeClient.from_kubeconfig(cluster.write_kubeconfig(Path(tmp) / "kubeconfig"))
        kube.device_classes.create(
            DeviceClass.model_validate(
                {
                    "metadata": {"name": DRIVER},
                    "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
                }
            )
        )
        started = time.perf_counter()
        slices = devices = 0
        for i in range(nodes):
            name = f"sched-node-{i:04d}"
            cluster.create_node(name)
            cards = make_backend("mock", node_name=name, profile="h200x8").discover()
            publisher = SlicePublisher(kube, driver=DRIVER, node_name=name, devices=_fixed(cards), mode=mode)
            outcome = publisher.sync()
            if outcome.mode is not mode:
                raise SystemExit(f"scheduler benchmark: node {name} published {outcome.mode}, not {mode}")
            slices += len(publisher.published_slices)
            devices += sum(
                len(s.spec.devices or []) for s in publisher.published_slices if s.spec is not None
            )
        publish_s = time.perf_counter() - started
        kube.resource_claim_templates.create(NAMESPACE, _template(mode))
        for i in range(pods):
            kube.pods.create(NAMESPACE, _pod(i))
        _wait(f"{pods} claims from the template", lambda: _claims(kube) >= pods, BIND_TIMEOUT_S)
        if progress:
            print(
                f"  {mode}: {nodes} nodes, {devices} devices, {pods} gated pods with claims", file=sys.stderr
            )
        began = time.perf_counter()
        core = CoreV1Api(kube.api_client)  # a merge patch: one request per pod (KubeClient has no patch)
        with ThreadPoolExecutor(max_workers=UNGATE_WORKERS) as pool:
            list(pool.map(lambda i: _ungate(core, i), range(pods)))
        ungated_s = time.perf_counter() - began
        bound = _count(kube, "spec.nodeName!=")
        while bound < pods and time.perf_counter() - began < window_s:
            time.sleep(0.2)
            bound = _count(kube, "spec.nodeName!=")
        bound_s = time.perf_counter() - began
        kube.close()
    if bound == 0:
        raise SystemExit(f"scheduler benchmark: no pod was bound in {mode} mode within {window_s:.0f} s")
    return {
        "pods_per_s": bound / bound_s,
        "bound": bound,
        "bind_seconds": bound_s,
        "ungate_seconds": ungated_s,
        "publish_seconds": publish_s,
        "slices": slices,
        "devices": devices,
    }


def run(nodes: int, pods: int, window_s: float = 180.0, progress: bool = True) -> dict[str, Any]:
    try:
        binaries.locate()
    except RealClusterError as exc:
        raise SystemExit(f"scheduler benchmark needs the real control plane: {exc}") from None
    result: dict[str, Any] = {"nodes": nodes, "cards": nodes * 8, "claims": pods}
    for mode in MODES:
        result[mode.value] = run_mode(mode, nodes, pods, window_s, progress)
    exclusive = result[SharingMode.EXCLUSIVE.value]["pods_per_s"]
    for mode in MODES:
        result[mode.value]["pods_per_s_vs_exclusive_ratio"] = result[mode.value]["pods_per_s"] / exclusive
    return result


def table(result: dict[str, Any]) -> str:
    header = (
        f"{'mode':<11}  {'devices':>7}  {'bound':>5}  {'pods/s':>7}  {'vs exclusive':>12}  {'bind s':>7}  "
        f"{'publish s':>9}"
    )
    lines = [header, "-" * len(header)]
    for mode in MODES:
        one = result[mode.value]
        lines.append(
            f"{mode.value:<11}  {int(one['devices']):>7}  {int(one['bound']):>5}  {one['pods_per_s']:>7.1f}  "
            f"{one['pods_per_s_vs_exclusive_ratio']:>12.2f}  {one['bind_seconds']:>7.1f}  "
            f"{one['publish_seconds']:>9.1f}"
        )
    lines.append(
        f"({int(result['nodes'])} kubelet-less nodes x 8 cards, {int(result['claims'])} one-claim pods "
        "per mode, real kube-scheduler without extender)"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=400)
    parser.add_argument("--window", type=float, default=180.0, help="longest wait for the binding, seconds")
    parser.add_argument("--quick", action="store_true", help="a small run for CI: 5 nodes, 20 pods")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.pods = 5, 20
    result = run(args.nodes, args.pods, args.window)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
