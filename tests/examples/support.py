"""Places the pods of one ``examples/<scenario>/`` folder on a mock cluster with hdra's simulator.

Owns: reading an example's YAML files and README, the README's ``placement`` block (the promise the
test checks), the mock cluster an example runs on, and ``place_example`` (what each pod gets).
It must never write files or talk to an API server.

The README block is the contract, in fenced code with the language ``placement``::

    mode: capacity                                     # sharing mode the node plugins publish in
    nodes: node-a100=a100x4, node-h200=h200x8, node-mixed=mixed   # mock node name=profile
    driver: nvidia.hdra.io                             # the driver the slices are published under
    <pod>: <node> <device> [<device> ...]              # every device of all the pod's claims
    <pod>: <node> <device> ... (tie: <node> <device> ...; <node> <device> ...)
    <pod>: pending                                     # the pod cannot be placed

A ``(tie: ...)`` lists the other nodes the real scheduler may pick for the pod with the same score
(``Placement.ties``, DESIGN §8), each with the devices the pod gets there; the simulator's own pick
comes first, and the lines after it assume that pick.

Pods are placed in file order (files sorted by name), each on the cluster as the earlier pods left
it, with the card and node policy ``binpack`` (the node plugin's default). A Deployment with
``replicas: n`` stands for the pods ``<name>-0`` … ``<name>-<n-1>``; each pod gets fresh claims from
its templates, while a ``resourceClaimName`` refers to the one claim of the file, allocated by the
first pod that uses it. Plain pods with HAMi resources are first converted by the webhook's
``convert_pod``, seeing the cluster's cards as the webhook would.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dra_driver.devices import make_backend
from dra_driver.kube.quantity import parse_quantity
from dra_driver.sim import ClusterState, Pending, Placement
from dra_driver.sim.workloads import POD_OWNERS, claim_from_template, expand_pods
from dra_driver.slices import SharingMode, build_slices
from dra_driver.webhook import Card, convert_pod

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMESPACE = "default"
_BLOCK = re.compile(r"```placement\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Promise:
    """What an example's README says it gets on the mock cluster."""

    mode: SharingMode
    nodes: tuple[tuple[str, str], ...]
    driver: str
    pods: dict[str, tuple[str, ...]]
    ties: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    """Per pod with ties: ``(node, devices...)`` of every other node of equal score, in order."""


@dataclass
class Outcome:
    """Per pod: ``(node, devices...)`` or ``("pending",)``, its ties (as ``Promise.ties``), and the
    Pending messages for diagnosis."""

    pods: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ties: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)


def example_dirs() -> list[Path]:
    return sorted(path for path in EXAMPLES.iterdir() if path.is_dir())


def documents(folder: Path) -> list[dict[str, Any]]:
    """Every YAML document of the folder's ``*.yaml`` files, files sorted by name."""
    docs: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ValueError(f"{path}: a YAML document is not an object: {doc!r}")
            docs.append(doc)
    return docs


def promise(folder: Path) -> Promise:
    """Parse the README's ``placement`` block; ValueError naming the README and line otherwise."""
    readme = folder / "README.md"
    match = _BLOCK.search(readme.read_text())
    if match is None:
        raise ValueError(f"{readme}: no ```placement block")
    fields: dict[str, str] = {}
    pods: dict[str, tuple[str, ...]] = {}
    ties: dict[str, tuple[tuple[str, ...], ...]] = {}
    for number, raw in enumerate(match.group(1).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not value.strip():
            raise ValueError(f"{readme}: placement line {number} {raw!r} is not 'key: value'")
        if key in ("mode", "nodes", "driver"):
            fields[key] = value.strip()
            continue
        chosen, tie_open, rest = value.partition("(tie:")
        pods[key.strip()] = tuple(chosen.split())
        if tie_open:
            if not rest.rstrip().endswith(")"):
                raise ValueError(f"{readme}: placement line {number} {raw!r}: '(tie:' without ')'")
            others = tuple(tuple(o.split()) for o in rest.rstrip()[:-1].split(";"))
            if not all(others):
                raise ValueError(f"{readme}: placement line {number} {raw!r}: an empty tie")
            ties[key.strip()] = others
    missing = {"mode", "nodes", "driver"} - fields.keys()
    if missing:
        raise ValueError(f"{readme}: placement block lacks {sorted(missing)}")
    nodes = tuple(
        (name.strip(), profile.strip())
        for name, _, profile in (item.partition("=") for item in fields["nodes"].split(","))
    )
    return Promise(SharingMode(fields["mode"]), nodes, fields["driver"], pods, ties)


def mock_slices(nodes: Sequence[tuple[str, str]], driver: str, mode: SharingMode) -> list[dict[str, Any]]:
    slices: list[dict[str, Any]] = []
    for node, profile in nodes:
        devices = make_backend("mock", node_name=node, profile=profile).discover()
        for slice_ in build_slices(devices, driver=driver, node_name=node, mode=mode):
            slices.append(slice_.model_dump(by_alias=True, exclude_none=True, mode="json"))
    return slices


def device_class(driver: str) -> dict[str, Any]:
    """The DeviceClass the chart renders for ``driver`` (charts/hdra/templates/deviceclasses.yaml)."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": driver},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
    }


def _cards(slices: Sequence[Mapping[str, Any]]) -> Any:
    """The webhook's view of the cluster's cards (what ``SliceCards`` reads from the API)."""

    def cards(driver: str) -> list[Card]:
        found = []
        for slice_ in slices:
            if slice_["spec"]["driver"] != driver:
                continue
            for device in slice_["spec"].get("devices", []):
                attrs = device.get("attributes", {})
                found.append(
                    Card(
                        driver=driver,
                        product_name=(attrs.get("productName") or {}).get("string"),
                        uuid=(attrs.get("uuid") or {}).get("string"),
                        memory_bytes=int(parse_quantity(device["capacity"]["memory"]["value"])),
                    )
                )
        return found

    return cards


def _claim_from_spec(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"},
        "spec": copy.deepcopy(dict(spec)),
    }


def place_example(folder: Path, expected: Promise) -> Outcome:
    """Place every pod of ``folder`` on the mock cluster ``expected`` names, in order."""
    docs = documents(folder)
    slices = mock_slices(expected.nodes, expected.driver, expected.mode)
    state = ClusterState(slices=slices, classes=[device_class(expected.driver)])
    templates = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ResourceClaimTemplate"}
    claims = {
        d["metadata"]["name"]: _claim_from_spec(d["metadata"]["name"], d["spec"])
        for d in docs
        if d["kind"] == "ResourceClaim"
    }
    outcome = Outcome()
    for written in expand_pods([d for d in docs if d["kind"] in ("Pod", *POD_OWNERS)]):
        pod_name = written["metadata"]["name"]
        conversion = convert_pod(written, namespace=NAMESPACE, cards=_cards(slices))
        pod = conversion.pod
        generated = {claim.template_name: claim.template for claim in conversion.claims}
        pod_claims: list[dict[str, Any]] = []
        for entry in pod["spec"].get("resourceClaims") or []:
            if "resourceClaimName" in entry:
                pod_claims.append(claims[entry["resourceClaimName"]])
                continue
            template = generated.get(entry["resourceClaimTemplateName"]) or templates.get(
                entry["resourceClaimTemplateName"]
            )
            if template is None:
                raise ValueError(
                    f"{folder}: pod {pod_name} names ResourceClaimTemplate "
                    f"{entry['resourceClaimTemplateName']!r}, which no file of the example defines"
                )
            pod_claims.append(claim_from_template(pod, entry["name"], template))
        placed = state.place_pod(
            pod_claims, policy="binpack", pod={"metadata": {"name": pod_name}}, ties=True
        )
        if isinstance(placed, Pending):
            outcome.pods[pod_name] = ("pending",)
            outcome.messages[pod_name] = placed.message
            continue
        assert isinstance(placed, Placement)
        for allocated in state.commit(placed):
            name = allocated["metadata"]["name"]
            if name in claims:
                claims[name] = allocated
        devices = [
            result["device"]
            for allocation in placed.allocations
            for result in allocation.allocation["devices"]["results"]
        ]
        outcome.pods[pod_name] = (placed.node, *devices)
        if placed.ties:
            outcome.ties[pod_name] = tuple((tie.node, *tie.device_names()) for tie in placed.ties)
    return outcome
