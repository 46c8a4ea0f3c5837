"""Acceptance: what the webhook makes of a HAMi-style NVIDIA pod is placeable by the allocator on the
demo's mock nodes (published under nvidia.hdra.io), with the card the annotations ask for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kubernetes_validate
import pytest

from dra_driver.devices import make_backend
from dra_driver.kube.quantity import parse_quantity
from dra_driver.sim import ClusterState, Pending, Placement
from dra_driver.slices import SharingMode, build_slices
from dra_driver.webhook import convert_pod
from dra_driver.webhook.selectors import Card
from tests.webhook.support import pod

DRIVER = "nvidia.hdra.io"
NODES = (("node-a100", "a100x4"), ("node-h200", "h200x8"), ("node-mixed", "mixed"))


@pytest.fixture(scope="module")
def slices() -> list[dict[str, Any]]:
    published: list[dict[str, Any]] = []
    for node, profile in NODES:
        devices = make_backend("mock", node_name=node, profile=profile).discover()
        for slice_ in build_slices(devices, driver=DRIVER, node_name=node, mode=SharingMode.CAPACITY):
            published.append(slice_.model_dump(by_alias=True, exclude_none=True, mode="json"))
    return published


def cards_of(slices: Sequence[Mapping[str, Any]]) -> Any:
    def cards(driver: str) -> list[Card]:
        found = []
        for slice_ in slices:
            for device in slice_["spec"].get("devices", []):
                attrs = device["attributes"]
                found.append(
                    Card(
                        driver=driver,
                        product_name=attrs["productName"]["string"],
                        uuid=attrs["uuid"]["string"],
                        memory_bytes=int(parse_quantity(device["capacity"]["memory"]["value"])),
                    )
                )
        return found

    return cards


def place(slices: list[dict[str, Any]], hami_pod: dict[str, Any]) -> tuple[Placement, list[dict[str, Any]]]:
    converted = convert_pod(hami_pod, namespace="default", cards=cards_of(slices))
    assert converted.claims, "nothing was converted"
    claims = []
    for generated in converted.claims:
        template = generated.template
        kubernetes_validate.validate(template, "1.36.0", strict=True)
        claims.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"{generated.claim_name}-x", "namespace": "default", "uid": "u-1"},
                "spec": template["spec"]["spec"],
            }
        )
    state = ClusterState(slices=slices)
    outcome = state.place_pod(claims, policy="binpack")
    assert isinstance(outcome, Placement), outcome.message if isinstance(outcome, Pending) else outcome
    return outcome, claims


def devices_of(slices: list[dict[str, Any]], placement: Placement) -> list[dict[str, Any]]:
    allocation = next(iter(placement.allocations)).allocation
    by_key = {(s["spec"]["nodeName"], d["name"]): d for s in slices for d in s["spec"].get("devices", [])}
    return [by_key[(r["pool"], r["device"])] for r in allocation["devices"]["results"]]


def test_memory_and_cores_on_one_card(slices: list[dict[str, Any]]) -> None:
    placement, _ = place(
        slices, pod({"nvidia.com/gpu": 1, "nvidia.com/gpumem": 3000, "nvidia.com/gpucores": 30})
    )
    (result,) = next(iter(placement.allocations)).allocation["devices"]["results"]
    assert result["consumedCapacity"]["memory"] == "3000Mi"
    assert result["consumedCapacity"]["cores"] == "30"


def test_two_cards_are_two_different_cards(slices: list[dict[str, Any]]) -> None:
    placement, _ = place(slices, pod({"nvidia.com/gpu": 2, "nvidia.com/gpumem": 8000}))
    devices = devices_of(slices, placement)
    assert len({d["attributes"]["uuid"]["string"] for d in devices}) == 2


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        ("nvidia.com/use-gputype", "V100", "V100"),
        ("nvidia.com/use-gputype", "H200", "H200"),
        ("nvidia.com/nouse-gputype", "A100,H200", "V100"),
    ],
)
def test_type_selection_and_exclusion(
    slices: list[dict[str, Any]], annotation: str, value: str, expected: str
) -> None:
    placement, _ = place(
        slices, pod({"nvidia.com/gpu": 1, "nvidia.com/gpumem": 4000}, annotations={annotation: value})
    )
    (device,) = devices_of(slices, placement)
    assert expected in device["attributes"]["productName"]["string"]


def test_uuid_selection(slices: list[dict[str, Any]]) -> None:
    wanted = make_backend("mock", node_name="node-mixed", profile="mixed").discover()[5].uuid
    placement, _ = place(
        slices,
        pod({"nvidia.com/gpu": 1, "nvidia.com/gpumem": 1000}, annotations={"nvidia.com/use-gpuuuid": wanted}),
    )
    (device,) = devices_of(slices, placement)
    assert device["attributes"]["uuid"]["string"] == wanted and placement.node == "node-mixed"


def test_memory_percentage_becomes_first_available_and_places(slices: list[dict[str, Any]]) -> None:
    placement, claims = place(slices, pod({"nvidia.com/gpu": 1, "nvidia.com/gpumem-percentage": 50}))
    alternatives = claims[0]["spec"]["devices"]["requests"][0]["firstAvailable"]
    assert len(alternatives) == 3  # 32, 40 and 141 GiB cards
    (result,) = next(iter(placement.allocations)).allocation["devices"]["results"]
    assert "/" in result["request"]  # a sub-request was chosen
