"""Prepare and unprepare of non-NVIDIA cards: vendor env in the CDI spec, Hygon vDCU files."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from dra_driver.interception import InterceptionSettings
from dra_driver.prepare import ClaimRef
from tests.prepare.conftest import MakeNode, Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def ref_of(node: Node, spec: ClaimSpec) -> ClaimRef:
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    return ClaimRef(claim.metadata.uid, spec.namespace, spec.name)


def env_of(node: Node, uid: str) -> dict[str, str]:
    spec = node.spec(uid)
    entries = list(spec.get("containerEdits", {}).get("env", []))
    return dict(item.split("=", 1) for item in entries)


def with_vdev_dir(node: Node, vdev_dir: Path) -> Node:
    interception: InterceptionSettings = dataclasses.replace(node.settings.interception, vdev_dir=vdev_dir)
    node.settings = dataclasses.replace(node.settings, interception=interception)
    return node


def shared(device: str, memory: str, cores: str) -> Result:
    return Result(
        device, consumed={"memory": memory, "cores": cores, "shares": "1"}, share_id=str(uuid.uuid4())
    )


def test_hygon_vdev_file_is_written_on_prepare_and_removed_on_unprepare(
    make_node: MakeNode, tmp_path: Path
) -> None:
    node = with_vdev_dir(make_node(profile="dcuz100x4"), tmp_path / "vdev")
    preparer = node.preparer()
    claim = ref_of(node, ClaimSpec("dcu", [shared("dcu-1", "8Gi", "50")]))
    preparer.prepare(claim)
    conf = tmp_path / "vdev" / claim.uid / "vdev0.conf"
    host = tmp_path / "vdev" / "vdev0.conf"
    text = conf.read_text()
    assert "mem: 8192 MiB\n" in text and "cu_count: 30\n" in text and "device_id: 0\n" in text
    assert "device_id: 1\n" in host.read_text()
    entry = preparer.checkpoint.get(claim.uid)
    assert entry is not None and {str(conf), str(host)} <= set(entry.artifacts)
    assert env_of(node, claim.uid) == {}  # dcu-vgpu-device-plugin sets no visibility variable
    preparer.unprepare(claim)
    assert not (tmp_path / "vdev" / claim.uid).exists()
    assert not host.exists()
    assert node.spec_files() == []


def test_ascend_share_gets_hami_vnpu_core_env_and_its_cache_dir(make_node: MakeNode) -> None:
    node = make_node(profile="ascend910bx8")
    preparer = node.preparer()
    claim = ref_of(node, ClaimSpec("npu", [shared("npu-2", "2000Mi", "0")]))
    preparer.prepare(claim)
    env = env_of(node, claim.uid)
    assert env["ASCEND_VISIBLE_DEVICES"] == "2"
    assert env["NPU_MEM_QUOTA"] == "2000"
    assert [d.name for d in node.claim_dirs()] == [claim.uid]
    preparer.unprepare(claim)
    assert node.claim_dirs() == []


def test_cambricon_share_gets_the_env_split(make_node: MakeNode) -> None:
    node = make_node(profile="mlu370x4")
    claim = ref_of(node, ClaimSpec("mlu", [shared("mlu-0", "9830Mi", "0")]))
    node.preparer().prepare(claim)
    assert env_of(node, claim.uid)["CAMBRICON_SPLIT_MEMS"] == "9"
    assert node.claim_dirs() == []  # the split needs no host directory
