"""NodePreparer against the dev cluster: limits, CDI specs, idempotency, bad inputs, unprepare."""

from __future__ import annotations

import uuid

import pytest

from dra_driver.checkpoint import ClaimState
from dra_driver.prepare import ClaimRef, PrepareError
from dra_driver.slices import SharingMode
from tests.prepare.conftest import MakeNode, Node
from tests.support.claims import ClaimSpec, Config, Result, create_allocated_claim


def ref_of(node: Node, spec: ClaimSpec) -> ClaimRef:
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    return ClaimRef(claim.metadata.uid, spec.namespace, spec.name)


def env_of(node: Node, uid: str) -> dict[str, str]:
    spec = node.spec(uid)
    entries = list(spec.get("containerEdits", {}).get("env", []))
    for device in spec["devices"]:
        entries += device["containerEdits"].get("env", [])
    return dict(item.split("=", 1) for item in entries)


def share(memory: str, cores: str) -> dict[str, str]:
    return {"memory": memory, "cores": cores, "shares": "1"}


def test_two_claims_sharing_one_card_get_their_own_limits_and_cache_dirs(node: Node) -> None:
    preparer = node.preparer()
    first = ref_of(
        node,
        ClaimSpec("small", [Result("gpu-0", consumed=share("3000Mi", "50"), share_id=str(uuid.uuid4()))]),
    )
    second = ref_of(
        node, ClaimSpec("large", [Result("gpu-0", consumed=share("8Gi", "30"), share_id=str(uuid.uuid4()))])
    )
    devices_first = preparer.prepare(first)
    devices_second = preparer.prepare(second)
    env_first, env_second = env_of(node, first.uid), env_of(node, second.uid)
    assert env_first["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"
    assert env_first["CUDA_DEVICE_SM_LIMIT_0"] == "50"
    assert env_second["CUDA_DEVICE_MEMORY_LIMIT_0"] == "8192m"
    assert env_second["CUDA_DEVICE_SM_LIMIT_0"] == "30"
    assert env_first["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env_first["CUDA_DEVICE_MEMORY_SHARED_CACHE"] == env_second["CUDA_DEVICE_MEMORY_SHARED_CACHE"]
    assert [d.name for d in node.claim_dirs()] == sorted([first.uid, second.uid])
    (a,), (b,) = devices_first, devices_second
    assert a.device_name == b.device_name == "gpu-0"
    assert a.share_id and b.share_id and a.share_id != b.share_id
    assert a.cdi_device_ids != b.cdi_device_ids
    assert a.request_names == ("gpu",)


def test_two_cards_are_indexed_in_pci_bus_order_whatever_the_allocation_order(node: Node) -> None:
    by_bus = sorted(node.devices, key=lambda d: d.pci_bus_id or "")
    low, high = by_bus[0], by_bus[-1]
    claim = ref_of(
        node,
        ClaimSpec(
            "pair",
            [
                Result(high.name, consumed=share("2Gi", "20"), share_id=str(uuid.uuid4())),
                Result(low.name, consumed=share("1Gi", "10"), share_id=str(uuid.uuid4())),
            ],
        ),
    )
    node.preparer().prepare(claim)
    env = env_of(node, claim.uid)
    assert env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "1024m"  # the lower PCI bus id
    assert env["CUDA_DEVICE_MEMORY_LIMIT_1"] == "2048m"
    assert env["CUDA_DEVICE_SM_LIMIT_0"] == "10"


def test_partition_limits_come_from_the_device_capacity(make_node: MakeNode) -> None:
    node = make_node(SharingMode.PARTITIONS)
    claim = ref_of(node, ClaimSpec("quarter", [Result("gpu-1-p4-2")]))
    node.preparer().prepare(claim)
    env = env_of(node, claim.uid)
    assert env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "10240m"
    assert env["CUDA_DEVICE_SM_LIMIT_0"] == "25"


def test_whole_card_gets_no_interception(make_node: MakeNode) -> None:
    node = make_node(SharingMode.EXCLUSIVE)
    claim = ref_of(node, ClaimSpec("whole", [Result("gpu-2")]))
    (device,) = node.preparer().prepare(claim)
    env = env_of(node, claim.uid)
    assert not any(key.startswith("CUDA_DEVICE_") for key in env)
    assert node.claim_dirs() == []
    assert device.cdi_device_ids[0].startswith("hdra.io/mock=")


def test_parameters_become_hami_core_env(node: Node) -> None:
    config = {
        "apiVersion": "hdra.io/v1alpha1",
        "kind": "AcceleratorConfig",
        "corePolicy": "force",
        "priority": "high",
        "logLevel": 3,
    }
    claim = ref_of(
        node,
        ClaimSpec(
            "tuned",
            [Result("gpu-0", consumed=share("1Gi", "10"), share_id=str(uuid.uuid4()))],
            configs=[Config(config)],
        ),
    )
    node.preparer().prepare(claim)
    env = env_of(node, claim.uid)
    assert env["GPU_CORE_UTILIZATION_POLICY"] == "force"
    assert env["CUDA_TASK_PRIORITY"] == "0"
    assert env["LIBCUDA_LOG_LEVEL"] == "3"


def test_prepare_is_idempotent_and_unprepare_removes_everything(node: Node) -> None:
    preparer = node.preparer()
    claim = ref_of(
        node, ClaimSpec("again", [Result("gpu-1", consumed=share("1Gi", "0"), share_id=str(uuid.uuid4()))])
    )
    first = preparer.prepare(claim)
    spec_mtime = node.spec_files()[0].stat().st_mtime_ns
    assert preparer.prepare(claim) == first
    assert node.spec_files()[0].stat().st_mtime_ns == spec_mtime
    entry = preparer.checkpoint.get(claim.uid)
    assert entry is not None and entry.state is ClaimState.PREPARE_COMPLETED
    preparer.unprepare(claim)
    assert node.spec_files() == []
    assert node.claim_dirs() == []
    assert preparer.checkpoint.get(claim.uid) is None
    preparer.unprepare(claim)  # twice is fine
    preparer.unprepare(ClaimRef(str(uuid.uuid4()), "default", "never-seen"))


def assert_nothing_written(node: Node) -> None:
    assert node.spec_files() == []
    assert node.claim_dirs() == []
    assert node.preparer().checkpoint.entries() == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not-found", "not found"),
        ("uid-mismatch", "has uid"),
        ("other-node", "not for this node node-a"),
        ("unknown-device", "gpu-99"),
        ("bad-parameters", "logLevel"),
        ("not-a-uuid", "is not a UUID"),
        ("upper-case-uid", "is not a UUID .*lowercase"),
        ("other-pool", "pool node-b"),
        ("no-consumed-capacity", "consumedCapacity"),
        # issue 18 item 14: the API server stores a negative capacity request and the scheduler
        # rounds it up to the policy's minimum (1Mi, 0 cores): prepare refuses it with the cause
        ("negative-capacity-request", r"request gpu asks for cores -50, a negative amount"),
    ],
)
def test_bad_inputs_give_a_named_error_and_write_nothing(node: Node, case: str, message: str) -> None:
    preparer = node.preparer()
    good = [Result("gpu-0", consumed=share("1Gi", "10"), share_id=str(uuid.uuid4()))]
    if case == "not-found":
        claim = ClaimRef(str(uuid.uuid4()), "default", "missing")
    elif case == "uid-mismatch":
        claim = ClaimRef(str(uuid.uuid4()), "default", ref_of(node, ClaimSpec("c", good)).name)
    elif case == "other-node":
        claim = ref_of(node, ClaimSpec("c", good, node="node-b"))
    elif case == "unknown-device":
        claim = ref_of(
            node, ClaimSpec("c", [Result("gpu-99", consumed=share("1Gi", "1"), share_id=str(uuid.uuid4()))])
        )
    elif case == "bad-parameters":
        bad = {"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "logLevel": 9}
        claim = ref_of(node, ClaimSpec("c", good, configs=[Config(bad)]))
    elif case == "not-a-uuid":
        claim = ClaimRef("../../etc", "default", "c")
    elif case == "upper-case-uid":
        # Issue 16: prepare once accepted an upper-case UID that the CDI and checkpoint layers then
        # refused, so the claim could be prepared but never unprepared. One rule refuses it up front.
        claim = ClaimRef(ref_of(node, ClaimSpec("c", good)).uid.upper(), "default", "c")
    elif case == "other-pool":
        claim = ref_of(
            node,
            ClaimSpec(
                "c", [Result("gpu-0", pool="node-b", consumed=share("1Gi", "1"), share_id=str(uuid.uuid4()))]
            ),
        )
    elif case == "negative-capacity-request":
        rounded = [Result("gpu-0", consumed=share("1Mi", "0"), share_id=str(uuid.uuid4()))]
        claim = ref_of(node, ClaimSpec("c", rounded, capacity={"memory": "-3000Mi", "cores": "-50"}))
    else:
        claim = ref_of(node, ClaimSpec("c", [Result("gpu-0")]))
    with pytest.raises(PrepareError, match=message):
        preparer.prepare(claim)
    assert_nothing_written(node)


def test_other_drivers_results_are_ignored(node: Node) -> None:
    claim = ref_of(
        node,
        ClaimSpec(
            "mixed",
            [
                Result("gpu-0", consumed=share("1Gi", "10"), share_id=str(uuid.uuid4())),
                Result("nic-0", request="net", driver="net.example.com"),
            ],
        ),
    )
    devices = node.preparer().prepare(claim)
    assert [d.device_name for d in devices] == ["gpu-0"]


def test_conflicting_configs_of_one_claim_are_refused(node: Node) -> None:
    high = {"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "priority": "high"}
    low = {"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "priority": "low"}
    claim = ref_of(
        node,
        ClaimSpec(
            "conflict",
            [
                Result("gpu-0", request="a", consumed=share("1Gi", "10"), share_id=str(uuid.uuid4())),
                Result("gpu-1", request="b", consumed=share("1Gi", "10"), share_id=str(uuid.uuid4())),
            ],
            configs=[Config(high, requests=("a",)), Config(low, requests=("b",))],
        ),
    )
    with pytest.raises(PrepareError, match="different AcceleratorConfig"):
        node.preparer().prepare(claim)
    assert_nothing_written(node)
