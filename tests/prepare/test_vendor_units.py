"""Node-unique units through the real NodePreparer: AMD compute units and Hygon vDCU ids and CUs
stay disjoint across claims on one card, also after a plugin restart (a new preparer and
checkpoint store on the same state dir), and are freed on unprepare.

Rules from Project-HAMi/amd-device-plugin ``internal/pkg/cuallocation/cuallocation.go``
(``AllocateN``: first-fit over free CUs) and Project-HAMi/dcu-vgpu-device-plugin
``internal/pkg/dcu/server.go`` (``AllocateVidx`` per node, ``AllocatePipeID`` per card).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path

from dra_driver.prepare import ClaimRef, NodePreparer
from tests.prepare.conftest import MakeNode, Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def claim_on(node: Node, name: str, device: str, memory: str, cores: str) -> ClaimRef:
    result = Result(
        device,
        consumed={"memory": memory, "cores": cores, "shares": "1"},
        share_id=str(uuid.uuid4()),
        driver=node.settings.driver,
    )
    claim = create_allocated_claim(node.kube, ClaimSpec(name, [result]))
    assert claim.metadata is not None and claim.metadata.uid is not None
    return ClaimRef(claim.metadata.uid, "default", name)


def cu_ids(mask: str) -> set[int]:
    """The CUs of one ``<i>:<ID list>`` HSA_CU_MASK entry."""
    ids: set[int] = set()
    for part in mask.split(":", 1)[1].split(","):
        low, _, high = part.partition("-")
        ids.update(range(int(low), int(high or low) + 1))
    return ids


def amd_mask(node: Node, claim: ClaimRef) -> set[int]:
    env = dict(item.split("=", 1) for item in node.spec(claim.uid)["containerEdits"]["env"])
    return cu_ids(env["HSA_CU_MASK"])


def restarted(node: Node) -> NodePreparer:
    """A fresh preparer (new checkpoint store, nothing in memory), as after a plugin restart."""
    return node.preparer()


def test_two_amd_claims_on_one_card_get_disjoint_cus_also_after_a_restart(make_node: MakeNode) -> None:
    node = make_node(profile="mi300x8", driver="amd.hdra.io")
    first = claim_on(node, "amd-a", "gpu-2", "16Gi", "25")
    second = claim_on(node, "amd-b", "gpu-2", "16Gi", "25")
    node.preparer().prepare(first)
    node.preparer().prepare(second)
    a, b = amd_mask(node, first), amd_mask(node, second)
    assert len(a) == len(b) == 76 and not a & b  # floor(304 x 25 %) each, no CU shared

    third = claim_on(node, "amd-c", "gpu-2", "16Gi", "25")
    preparer = restarted(node)
    preparer.prepare(third)
    c = amd_mask(node, third)
    assert len(c) == 76 and not c & (a | b)

    preparer.unprepare(first)  # frees a's CUs: the next claim gets them back (first-fit)
    fourth = claim_on(node, "amd-d", "gpu-2", "16Gi", "25")
    restarted(node).prepare(fourth)
    assert amd_mask(node, fourth) == a


def vdev_fields(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+): (.*)$", text, re.MULTILINE))


def hygon_node(make_node: MakeNode, tmp_path: Path) -> Node:
    node = make_node(profile="dcuz100x4", driver="hygon.hdra.io")
    interception = dataclasses.replace(node.settings.interception, vdev_dir=tmp_path / "vdev")
    node.settings = dataclasses.replace(node.settings, interception=interception)
    return node


def test_two_hygon_claims_on_one_card_get_distinct_ids_and_cus_also_after_a_restart(
    make_node: MakeNode, tmp_path: Path
) -> None:
    node = hygon_node(make_node, tmp_path)
    vdev = tmp_path / "vdev"
    claims = [claim_on(node, f"dcu-{n}", "dcu-0", "4Gi", "20") for n in "ab"]
    for claim in claims:
        node.preparer().prepare(claim)
    claims.append(claim_on(node, "dcu-c", "dcu-0", "4Gi", "20"))
    restarted(node).prepare(claims[2])
    configs = [vdev_fields((vdev / c.uid / "vdev0.conf").read_text()) for c in claims]
    assert [c["vdev_id"] for c in configs] == ["0", "1", "2"]
    assert [c["pipe_id"] for c in configs] == ["0", "1", "2"]
    assert {c["device_id"] for c in configs} == {"0"}
    words = [
        re.findall(r"^cu_mask: (0x[0-9a-f]{16})$", (vdev / c.uid / "vdev0.conf").read_text(), re.M)
        for c in claims
    ]
    assert all(len(w) == 2 and w[1] == "0x0000000000000000" for w in words)  # 60 CUs fit the first word
    masks = [int(w[0], 16) for w in words]
    assert [bin(m).count("1") for m in masks] == [12, 12, 12]  # floor(60 CUs x 20 %)
    assert masks[0] & masks[1] == masks[0] & masks[2] == masks[1] & masks[2] == 0
    assert sorted(p.name for p in vdev.glob("vdev*.conf")) == ["vdev0.conf", "vdev1.conf", "vdev2.conf"]

    restarted(node).unprepare(claims[1])
    assert not (vdev / "vdev1.conf").exists()
    other = claim_on(node, "dcu-d", "dcu-1", "4Gi", "20")  # another card: its own pipe ids
    restarted(node).prepare(other)
    fields = vdev_fields((vdev / other.uid / "vdev0.conf").read_text())
    assert (fields["vdev_id"], fields["pipe_id"]) == ("1", "0")  # the freed node id, the card's first pipe
