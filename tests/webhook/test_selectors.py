"""The CEL the converter writes compiles and selects exactly the cards the Python twin (``matches``)
selects, evaluated by the simulator's CEL engine on real published device shapes."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devices import make_backend
from dra_driver.kube.quantity import parse_quantity
from dra_driver.slices import SharingMode, build_slices
from dra_driver.webhook import FAMILIES, Card, Selection
from dra_driver.webhook.selectors import matches, memory_size_expression, selector_expressions

cel_env = pytest.importorskip("dra_driver.sim.cel_env")

NVIDIA = next(f for f in FAMILIES if f.driver == "nvidia.hdra.io")
HYGON = next(f for f in FAMILIES if f.driver == "hygon.hdra.io")
B3 = next(f for f in FAMILIES if f.request_name == "ascend910b3")
B4 = next(f for f in FAMILIES if f.request_name == "ascend910b4")


def _nvidia_devices() -> list[dict[str, Any]]:
    cards = make_backend("mock", node_name="node-x", profile="mixed").discover()
    slices = build_slices(cards, driver="nvidia.hdra.io", node_name="node-x", mode=SharingMode.CAPACITY)
    return [
        d.model_dump(by_alias=True, exclude_none=True) | {"driver": "nvidia.hdra.io"}
        for s in slices
        for d in s.spec.devices or []
    ]


def _device(driver: str, name: str, product: str | None, uuid: str | None, memory: str) -> dict[str, Any]:
    attributes = {k: {"string": v} for k, v in (("productName", product), ("uuid", uuid)) if v is not None}
    return {
        "name": name,
        "driver": driver,
        "attributes": attributes,
        "capacity": {"memory": {"value": memory}},
    }


DEVICES = [
    *_nvidia_devices(),
    _device("nvidia.hdra.io", "anonymous", None, None, "16Gi"),
    _device("hygon.hdra.io", "dcu-0", "K100_AI", "DCU-1", "64Gi"),
    _device("hygon.hdra.io", "dcu-1", "Z100L", "DCU-2", "32Gi"),
    _device("ascend.hdra.io", "npu-0", "910B3", "npu-0", "64Gi"),
    _device("ascend.hdra.io", "npu-1", "Ascend910B4", "npu-1", "32Gi"),
    _device("ascend.hdra.io", "npu-2", "910B4-1", "npu-2", "64Gi"),
]


def _card(device: dict[str, Any]) -> Card:
    attrs = device["attributes"]
    memory = int(parse_quantity(device["capacity"]["memory"]["value"]))
    return Card(
        device["driver"],
        (attrs.get("productName") or {}).get("string"),
        (attrs.get("uuid") or {}).get("string"),
        memory,
    )


def _cel_matches(engine: Any, expressions: list[str], device: dict[str, Any]) -> bool:
    cel_device = cel_env.CelDevice(
        device["name"], device["driver"], device["attributes"], device["capacity"], False
    )
    results = [engine.evaluate(engine.compile(e), cel_device) for e in expressions]
    for result in results:
        assert result.error is None, (device["name"], result.error)
    return all(r.matched for r in results)


A100_UUID = _card(DEVICES[0]).uuid or ""

SELECTIONS = [
    (NVIDIA, Selection()),
    (NVIDIA, Selection(use_types=("A100",))),
    (NVIDIA, Selection(use_types=("h200", "v100"))),
    (NVIDIA, Selection(nouse_types=("NVIDIA",))),
    (NVIDIA, Selection(use_uuids=(A100_UUID,))),
    (NVIDIA, Selection(nouse_uuids=(A100_UUID,), use_types=("sxm",))),
    (HYGON, Selection(use_types=("k100",), nouse_uuids=("DCU-9",))),
    (HYGON, Selection(nouse_types=("z100",))),
    (B3, Selection()),
    (B4, Selection()),
    (B4, Selection(nouse_uuids=("npu-1",))),
]


@pytest.mark.parametrize(("family", "selection"), SELECTIONS)
def test_cel_and_python_agree(family: Any, selection: Selection) -> None:
    engine = cel_env.CelEngine()
    expressions = selector_expressions(family, selection)
    chosen = []
    for device in DEVICES:
        if device["driver"] != family.driver:
            continue
        by_python = matches(_card(device), family, selection)
        assert _cel_matches(engine, expressions, device) == by_python, device["name"]
        if by_python:
            chosen.append(device["name"])
    assert chosen or selection.nouse_uuids == ("npu-1",), "every case must select something"


def test_ascend_chip_patterns_keep_910b4_and_910b4_1_apart() -> None:
    names = {d["name"] for d in DEVICES if matches(_card(d), B4, Selection())}
    assert names == {"npu-1"}


def test_memory_size_expression_matches_only_that_size() -> None:
    engine = cel_env.CelEngine()
    nvidia = [d for d in DEVICES if d["driver"] == "nvidia.hdra.io"]
    for size in {_card(d).memory_bytes for d in nvidia}:
        expression = memory_size_expression("nvidia.hdra.io", size)
        selected = {d["name"] for d in nvidia if _cel_matches(engine, [expression], d)}
        assert selected == {d["name"] for d in nvidia if _card(d).memory_bytes == size}
        assert selected
