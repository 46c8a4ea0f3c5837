"""Ascend vNPU template devices end to end: selected by CEL in the simulator, prepared with
``ASCEND_VNPU_SPECS`` from the device's ``vnpuTemplate`` attribute (agreeing with, or conflicting
with, the claim's ``ascend.vnpuTemplate``)."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.prepare import ClaimRef, PrepareError
from dra_driver.sim import ClusterState, Placement
from dra_driver.slices import SharingMode
from tests.prepare.conftest import MakeNode, Node
from tests.support.claims import ClaimSpec, Config, Result, create_allocated_claim

ASCEND = "ascend.hdra.io"
SELECT_VIR05 = f'device.attributes["{ASCEND}"].vnpuTemplate == "vir05_1c_16g"'


def _node(make_node: MakeNode) -> Node:
    return make_node(mode=SharingMode.PARTITIONS, profile="ascend910bx8", driver=ASCEND)


def _placed(node: Node, name: str, state: ClusterState) -> dict[str, Any]:
    """Place one claim for a vir05_1c_16g vNPU with the simulator; its single allocation result."""
    request = {
        "name": "npu",
        "exactly": {"deviceClassName": ASCEND, "selectors": [{"cel": {"expression": SELECT_VIR05}}]},
    }
    body = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"devices": {"requests": [request]}},
    }
    placement = state.place_pod([body])
    assert isinstance(placement, Placement), placement
    state.commit(placement)
    (result,) = placement.allocations[0].allocation["devices"]["results"]
    assert isinstance(result, dict)
    return result


def _state(node: Node) -> ClusterState:
    slices = [
        s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in node.publisher.published_slices
    ]
    return ClusterState(slices, seed=1)


def _ref(node: Node, name: str, result: dict[str, Any], configs: list[Config] | None = None) -> ClaimRef:
    spec = ClaimSpec(
        name,
        [Result(result["device"], request="npu", driver=ASCEND, pool=result["pool"])],
        configs=configs or [],
    )
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    return ClaimRef(claim.metadata.uid, spec.namespace, spec.name)


def _env(node: Node, uid: str) -> dict[str, str]:
    entries = list(node.spec(uid).get("containerEdits", {}).get("env", []))
    return dict(item.split("=", 1) for item in entries)


def _template_config(template: str) -> Config:
    parameters = {
        "apiVersion": "hdra.io/v1alpha1",
        "kind": "AcceleratorConfig",
        "ascend": {"vnpuTemplate": template},
    }
    return Config(parameters, driver=ASCEND)


def test_claim_selecting_a_template_is_placed_and_prepared_with_its_vnpu_specs(make_node: MakeNode) -> None:
    node = _node(make_node)
    state = _state(node)
    first = _placed(node, "vnpu-a", state)
    second = _placed(node, "vnpu-b", state)
    assert first["device"].startswith("npu-0-vir05-1c-16g-")
    assert second["device"].startswith("npu-0-vir05-1c-16g-") and second["device"] != first["device"]
    preparer = node.preparer()
    claim = _ref(node, "vnpu-a", first)
    devices = preparer.prepare(claim)
    assert [d.device_name for d in devices] == [first["device"]]
    env = _env(node, claim.uid)
    assert env["ASCEND_VNPU_SPECS"] == "vir05_1c_16g"
    assert env["ASCEND_VISIBLE_DEVICES"] == "0"
    assert "NPU_MEM_QUOTA" not in env  # a hard split: no hami-vnpu-core soft limits
    assert node.claim_dirs() == []
    preparer.unprepare(claim)
    assert node.spec_files() == []


def test_an_agreeing_accelerator_config_template_is_accepted(make_node: MakeNode) -> None:
    node = _node(make_node)
    result = _placed(node, "agree", _state(node))
    claim = _ref(node, "agree", result, [_template_config("vir05_1c_16g")])
    node.preparer().prepare(claim)
    assert _env(node, claim.uid)["ASCEND_VNPU_SPECS"] == "vir05_1c_16g"


def test_a_conflicting_accelerator_config_template_fails_naming_both(make_node: MakeNode) -> None:
    node = _node(make_node)
    result = _placed(node, "conflict", _state(node))
    claim = _ref(node, "conflict", result, [_template_config("vir10_3c_32g")])
    with pytest.raises(PrepareError) as failure:
        node.preparer().prepare(claim)
    message = str(failure.value)
    assert "vir10_3c_32g" in message and "vir05_1c_16g" in message and result["device"] in message
    assert node.spec_files() == []


def test_the_whole_card_in_partitions_mode_gets_no_template(make_node: MakeNode) -> None:
    node = _node(make_node)
    claim = _ref(node, "whole", {"device": "npu-3", "pool": "node-a"})
    node.preparer().prepare(claim)
    env = _env(node, claim.uid)
    assert env["ASCEND_VISIBLE_DEVICES"] == "3"
    assert "ASCEND_VNPU_SPECS" not in env and "NPU_MEM_QUOTA" not in env
