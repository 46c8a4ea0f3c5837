"""Every example of examples/ placed by the real kube-scheduler (issue 12, "Scheduling").

For each example folder: the Nodes its README's ``placement`` block names are created Ready; one
real ``hdra kubelet-plugin`` process per Node publishes that profile's slices in the block's mode
with the card policy under test (``binpack``, then ``spread``), taking its cards' use from ``hdra
controller`` (``--policy-url``: the controller's one cluster-wide watch, issue 16 item 6), which
also serves the scheduler's extender with the same policy (configured as charts/hdra/README.md
says); the chart's DeviceClass is created. Then the pods are applied with
``kubectl`` one at a time, in file order (as the README's contract says), and each is waited for:
bound by the real scheduler with its claims allocated by the real DynamicResources plugin (the
real resourceclaim controller made the claims from the templates), or marked Unschedulable.

Each placement is compared with ``hdra simulate``'s (``ClusterState.place_pod``, same policy) on the
slices as the real node plugins published them and the claims as the real scheduler allocated
them so far, and with the README. A pod agrees when the real scheduler put it on the simulator's
node or on one of the nodes the simulator names as ties (equal score: the real scheduler picks
among them at random, ``Placement.ties``, DESIGN §8), with exactly the devices the simulator gives
it on that node; there is no other verdict, and every pod must agree. After
each pod, every node plugin must have re-published its cards in the order the simulator's
policy gives, before the next pod is applied. The README's placements are binpack's.

Without a deployment controller, a Deployment is applied as the pods it would create
(``<name>-<i>``, ``dra_driver.sim.workloads.expand_pods``), as ``hdra simulate`` does; HAMi-style
pods are converted with the webhook's ``convert_pod`` (reading the cards from the real slices)
before they are applied.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api

from dra_driver.kube import KubeClient
from dra_driver.kube.models import Namespace, ObjectMeta
from dra_driver.realcluster import RealCluster
from dra_driver.sim import ClusterState, Pending, Placement, Policy
from dra_driver.sim.workloads import POD_OWNERS, expand_pods
from dra_driver.webhook import convert_pod
from dra_driver.webhook.cluster import SliceCards
from tests.examples.support import Promise, device_class, documents, example_dirs, promise
from tests.support.processes import HDRA, Process, plugin_dirs, wait_for
from tests.support.realcluster import report_table

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

POD_TIMEOUT_S = 90.0
SETTLE_TIMEOUT_S = 30.0
ROWS: list[tuple[str, ...]] = []
HEADERS = ("policy", "example", "pod", "README (binpack)", "hdra simulate", "real scheduler", "agree")


class Extender:
    def __init__(self, process: Process, policy: str, url: str) -> None:
        self.process, self.policy, self.url = process, policy, url


@pytest.fixture(scope="module", params=["binpack", "spread"])
def extender(
    real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Extender]:
    """``hdra controller`` on the port the real scheduler's extender entry names, with the policy."""
    assert real_cluster.extender_port is not None
    policy = str(request.param)
    log_dir = tmp_path_factory.mktemp(f"extender-{policy}")
    process = Process(
        [
            *HDRA,
            "controller",
            "--kubeconfig",
            str(real_cluster.kubeconfig),
            "--host",
            "127.0.0.1",
            "--port",
            str(real_cluster.extender_port),
            "--policy",
            policy,
            "--cache-seconds",
            "0",
        ],
        log_dir / "controller.log",
    )
    url = f"http://127.0.0.1:{real_cluster.extender_port}"
    assert wait_for(lambda: _healthy(url), 30.0, 0.2), (
        f"hdra controller did not start: {process.log.read_text()}"
    )
    yield Extender(process, policy, url)
    process.terminate()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _kubectl(cluster: RealCluster, namespace: str, obj: Mapping[str, Any]) -> None:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-n", namespace, "-f", "-"],
        input=json.dumps(obj),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"kubectl apply {obj['kind']} {obj['metadata']['name']}: {done.stderr}"


def _dump(obj: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def _slices(kube: KubeClient, driver: str) -> list[dict[str, Any]]:
    return [_dump(s) for s in kube.resource_slices.list(field_selector=f"spec.driver={driver}").items]


def _published(slices: Sequence[Mapping[str, Any]], node: str) -> list[str]:
    mine = sorted(
        (s for s in slices if s["spec"].get("nodeName") == node), key=lambda s: s["metadata"]["name"]
    )
    return [d["name"] for s in mine for d in s["spec"].get("devices") or []]


def _complete(slices: Sequence[Mapping[str, Any]], nodes: Sequence[str]) -> bool:
    for node in nodes:
        mine = [s for s in slices if s["spec"]["pool"]["name"] == node]
        if not mine or len(mine) != mine[0]["spec"]["pool"]["resourceSliceCount"]:
            return False
        if len({s["spec"]["pool"]["generation"] for s in mine}) != 1:
            return False
    return True


def _pod_claims(kube: KubeClient, namespace: str, pod: Any) -> list[dict[str, Any]]:
    generated = {s.name: s.resource_claim_name for s in (pod.status.resource_claim_statuses or [])}
    claims = []
    for entry in pod.spec.resource_claims or []:
        name = entry.resource_claim_name or generated[entry.name]
        claims.append(_dump(kube.resource_claims.get(namespace, name)))
    return claims


def _devices(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        result["device"]
        for claim in claims
        for result in ((claim.get("status") or {}).get("allocation") or {})["devices"]["results"]
    ]


def _wait_placed(kube: KubeClient, namespace: str, name: str) -> Any:
    """The pod once bound with every claim allocated, or once the scheduler calls it Unschedulable."""
    deadline = time.monotonic() + POD_TIMEOUT_S
    while True:
        pod = kube.pods.get(namespace, name)
        conditions = {c.type: c for c in (pod.status.conditions or [])} if pod.status else {}
        scheduled = conditions.get("PodScheduled")
        if scheduled is not None and scheduled.status == "False" and scheduled.reason == "Unschedulable":
            return pod
        if pod.spec is not None and pod.spec.node_name:
            claims = _pod_claims(kube, namespace, pod)
            if all((c.get("status") or {}).get("allocation") for c in claims):
                return pod
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pod {namespace}/{name} was neither placed nor Unschedulable in time: {pod.status}"
            )
        time.sleep(0.2)


def _choices(placement: Placement | Pending) -> list[str]:
    """What the real scheduler may do by the simulator: ``node device...`` per node of equal score."""
    if isinstance(placement, Pending):
        return ["pending"]
    return [
        " ".join([placement.node, *placement.device_names()]),
        *(" ".join([tie.node, *tie.device_names()]) for tie in placement.ties),
    ]


def _show(placement: Placement | Pending) -> str:
    first, *ties = _choices(placement)
    return first + (f" (tie: {'; '.join(ties)})" if ties else "")


def _start_plugins(
    cluster: RealCluster, expected: Promise, tmp_path: Path, extender: Extender
) -> list[Process]:
    plugins = []
    for node, profile in expected.nodes:
        where = tmp_path / node  # short: the kubelet sockets under it must stay within 107 bytes
        plugins.append(
            Process(
                [
                    *HDRA,
                    "kubelet-plugin",
                    "--kubeconfig",
                    str(cluster.kubeconfig),
                    "--node-name",
                    node,
                    "--backend",
                    "mock",
                    "--profile",
                    profile,
                    "--driver",
                    expected.driver,
                    "--mode",
                    expected.mode.value,
                    "--policy",
                    extender.policy,
                    "--policy-url",
                    extender.url,
                    *plugin_dirs(where),
                ],
                tmp_path / f"plugin-{node}.log",
            )
        )
    return plugins


@pytest.mark.parametrize("folder", example_dirs(), ids=lambda p: p.name)
def test_example_placed_by_the_real_scheduler(
    real_cluster: RealCluster, extender: Extender, folder: Path, tmp_path: Path
) -> None:
    expected = promise(folder)
    kube = real_cluster.client
    nodes = [node for node, _ in expected.nodes]
    namespace = f"ex-{extender.policy}-{folder.name}"[:63]
    kube.namespaces.create(Namespace(metadata=ObjectMeta(name=namespace)))
    _kubectl(real_cluster, namespace, device_class(expected.driver))  # the chart's DeviceClass
    for node in nodes:
        real_cluster.create_node(node)
    # A short directory of its own: pytest's tmp_path makes the plugins' socket paths longer than
    # the 107 bytes a unix socket allows ("test_example_placed_by_the_rea<N>/node-mixed/...").
    short = Path(tempfile.mkdtemp(prefix="hdra-rt-"))
    plugins = _start_plugins(real_cluster, expected, short, extender)
    try:
        rows = _run_example(
            real_cluster, folder, expected, namespace, nodes, plugins=plugins, policy=Policy(extender.policy)
        )
    finally:
        for plugin in plugins:
            plugin.terminate()
        shutil.rmtree(short, ignore_errors=True)
        _clean(kube, namespace, nodes, expected.driver)
    ROWS.extend((extender.policy, *row) for row in rows)
    report_table("examples: real kube-scheduler vs hdra simulate vs README", HEADERS, ROWS)
    wrong = [row for row in rows if row[-1] == "no"]
    assert not wrong, f"{folder.name}: placements disagree: {wrong}"


def _run_example(
    cluster: RealCluster,
    folder: Path,
    expected: Promise,
    namespace: str,
    nodes: Sequence[str],
    *,
    plugins: Sequence[Process],
    policy: Policy,
) -> list[tuple[str, ...]]:
    kube = cluster.client
    assert wait_for(lambda: _complete(_slices(kube, expected.driver), nodes), 60.0, 0.2), (
        f"the node plugins did not publish complete pools for {nodes}"
    )
    docs = documents(folder)
    for doc in docs:
        if doc["kind"] in ("ResourceClaimTemplate", "ResourceClaim"):
            _kubectl(cluster, namespace, doc)
    classes = [device_class(expected.driver)]
    allocated: list[dict[str, Any]] = []  # every claim the real scheduler allocated so far
    rows: list[tuple[str, ...]] = []
    for written in expand_pods([d for d in docs if d["kind"] in ("Pod", *POD_OWNERS)]):
        pod_name = written["metadata"]["name"]
        # The simulator's stand-in uid and namespace are not the API's to take.
        written["metadata"] = {k: v for k, v in written["metadata"].items() if k not in ("uid", "namespace")}
        slices = _slices(kube, expected.driver)
        conversion = convert_pod(written, namespace=namespace, cards=SliceCards(kube))
        for generated in conversion.claims:
            _kubectl(cluster, namespace, generated.template)
        pod = {**conversion.pod, "metadata": {**conversion.pod.get("metadata", {}), "name": pod_name}}
        _kubectl(cluster, namespace, pod)
        real_pod = _wait_placed(kube, namespace, pod_name)
        claims = _pod_claims(kube, namespace, real_pod)
        fresh = [
            c for c in claims if not any(a["metadata"]["uid"] == c["metadata"]["uid"] for a in allocated)
        ]
        unallocated = [{k: v for k, v in c.items() if k != "status"} for c in fresh]
        state = ClusterState(slices=slices, classes=classes, claims=allocated)
        sim_inputs = [c for c in claims if c not in fresh] + unallocated
        simulated = state.place_pod(sim_inputs, policy=policy, ties=True)
        real_node = real_pod.spec.node_name
        readme = " ".join(expected.pods.get(pod_name, ("(not in README)",)))
        if pod_name in expected.ties:
            readme += f" (tie: {'; '.join(' '.join(tie) for tie in expected.ties[pod_name])})"
        real = " ".join([real_node, *_devices(claims)]) if real_node else "pending"
        agree = "yes" if real in _choices(simulated) else "no"
        if real_node:
            allocated.extend(c for c in claims if c in fresh)
            _settle(kube, expected.driver, nodes, classes, allocated, plugins=plugins, policy=policy)
        rows.append((folder.name, pod_name, readme, _show(simulated), real, agree))
    return rows


def _settle(
    kube: KubeClient,
    driver: str,
    nodes: Sequence[str],
    classes: Sequence[Mapping[str, Any]],
    allocated: Sequence[Mapping[str, Any]],
    *,
    plugins: Sequence[Process],
    policy: Policy,
) -> None:
    """Wait until every node plugin published its cards in the simulator's order for ``policy``."""

    def wanted_and_published() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        slices = _slices(kube, driver)
        state = ClusterState(slices=slices, classes=classes, claims=allocated)
        wanted = {n: [d.name for d in state.device_order(n, policy)] for n in nodes}
        return wanted, {n: _published(slices, n) for n in nodes}

    def settled() -> bool:
        wanted, published = wanted_and_published()
        return wanted == published

    if wait_for(settled, SETTLE_TIMEOUT_S, 0.2):
        return
    wanted, published = wanted_and_published()
    raise AssertionError(
        f"the node plugins' {policy.value} card order differs from hdra simulate's: published {published}, "
        f"simulator {wanted}; plugin logs: "
        + " || ".join(f"{p.log.name}: {' | '.join(p.log.read_text().splitlines()[-8:])}" for p in plugins)
    )


def _clean(kube: KubeClient, namespace: str, nodes: Sequence[str], driver: str) -> None:
    core = CoreV1Api(kube.api_client)
    core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
    kube.resource_claims.delete_collection(namespace)
    # Claims still allocated would hold devices of the next example's Nodes of the same names.
    assert wait_for(lambda: not kube.resource_claims.list(namespace).items, 60.0, 0.2), (
        f"claims of {namespace} were not released: {kube.resource_claims.list(namespace).items}"
    )
    for node in nodes:
        kube.resource_slices.delete_collection(field_selector=f"spec.nodeName={node}")
        kube.nodes.delete(node)

    # The next example's Nodes have the same names: none of these slices may be left for them.
    def left() -> list[str]:
        slices = kube.resource_slices.list(field_selector=f"spec.driver={driver}").items
        return sorted({s.spec.node_name or "" for s in slices if s.spec and s.spec.node_name in nodes})

    assert wait_for(lambda: not left(), 30.0, 0.2), f"slices of {left()} were not deleted"
