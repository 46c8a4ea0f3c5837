"""The demo-relevant check: Cambricon and Ascend claims place on vendor mock nodes and get vendor env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import DeviceLimit, HamiCoreOptions, InterceptionSettings, build_vendor_edits
from dra_driver.kube.quantity import MIB, parse_quantity
from dra_driver.sim import ClusterState, Placement
from dra_driver.slices import SharingMode, build_slices
from tests.sim.builders import claim, exact

CLAIM_UID = "0c2d9e4a-7b1f-4c3e-8a5d-6f7e8d9c0b1a"
NODES = {"mlu-node": ("mlu370x4", "cambricon.hdra.io"), "npu-node": ("ascend910bx8", "ascend.hdra.io")}


def _state() -> tuple[ClusterState, dict[tuple[str, str], AcceleratorDevice]]:
    slices: list[dict[str, Any]] = []
    cards: dict[tuple[str, str], AcceleratorDevice] = {}
    for node, (profile, driver) in NODES.items():
        devices = make_backend("mock", node_name=node, profile=profile).discover()
        cards.update({(node, d.name): d for d in devices})
        built = build_slices(devices, driver=driver, node_name=node, mode=SharingMode.CAPACITY)
        slices += [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in built]
    return ClusterState(slices, seed=1), cards


def _env(
    state: ClusterState,
    cards: dict[tuple[str, str], AcceleratorDevice],
    request: dict[str, Any],
    tmp_path: Path,
) -> dict[str, str]:
    placement = state.place_pod([claim("c", request)])
    assert isinstance(placement, Placement), placement
    state.commit(placement)
    (result,) = placement.allocations[0].allocation["devices"]["results"]
    card = cards[(result["pool"], result["device"])]
    consumed = result["consumedCapacity"]
    limit = DeviceLimit(card, int(parse_quantity(consumed["memory"])) // MIB, int(consumed["cores"]) or None)
    settings = InterceptionSettings(state_dir=tmp_path / "state", vdev_dir=tmp_path / "vdev")
    result_env = build_vendor_edits(
        card.vendor, CLAIM_UID, [limit], HamiCoreOptions(), settings, with_library=False
    )
    return dict(result_env.env)


def test_cambricon_and_ascend_claims_place_and_get_vendor_env(tmp_path: Path) -> None:
    state, cards = _state()
    # 20 % of a 48 GiB MLU370-X8 is 9830 MiB: 9 of Cambricon's 1024 MiB split units.
    mlu = exact("mlu", cls="cambricon.hdra.io", capacity={"memory": "9830Mi"})
    env = _env(state, cards, mlu, tmp_path)
    assert env["CAMBRICON_SPLIT_MEMS"] == "9"
    assert env["CAMBRICON_SPLIT_ENABLE"] == "1"
    selector = 'device.attributes["ascend.hdra.io"].productName == "Ascend910B3"'
    npu = exact("npu", selector, cls="ascend.hdra.io", capacity={"memory": "2000Mi"})
    env = _env(state, cards, npu, tmp_path)
    assert env["NPU_MEM_QUOTA"] == "2000"
    assert "ASCEND_VISIBLE_DEVICES" in env
