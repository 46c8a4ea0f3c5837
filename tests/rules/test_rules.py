"""Each domain rule is defined once (issue 16 item 4): every layer that applies a rule gives the
answer of ``dra_driver.rules``, and no module defines its own copy."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

import dra_driver
from dra_driver.cdi import CdiError, validate_claim_uid
from dra_driver.checkpoint import CheckpointEntry, ClaimState
from dra_driver.devices import AcceleratorDevice
from dra_driver.interception import DeviceLimit, HamiCoreOptions, InterceptionSettings
from dra_driver.interception.hami_core import build_hami_core_edits
from dra_driver.interception.settings import PRIORITIES
from dra_driver.parameters import API_VERSION, KIND, decode_config
from dra_driver.prepare import ClaimRef, PrepareError
from dra_driver.prepare.catalog import CatalogEntry, DeviceCatalog
from dra_driver.prepare.claims import AllocationResult, check_claim_uid
from dra_driver.prepare.limits import device_limits
from dra_driver.rules import (
    CORES,
    FULL_CORES,
    MEMORY,
    Priority,
    claim_uid_problem,
    cores_unlimited,
    is_claim_uid,
    is_whole_card,
)

PACKAGE = Path(dra_driver.__file__).parent
RULES = PACKAGE / "rules"
GIB = 1 << 30
MIB = 1 << 20
UID = str(uuid.uuid4())

UID_CASES = [
    (UID, True),
    (UID.upper(), False),
    ("{" + UID + "}", False),
    (UID.replace("-", ""), False),
    ("../x", False),
    ("", False),
    (UID + "\n", False),
    ("0f3c2a10/5b6d-4e7f-8a9b-0c1d2e3f4a5b", False),
]


def _modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
        if RULES not in path.parents and "kubeletapi" not in path.parts
    ]


# ---- claim UIDs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "valid"), UID_CASES)
def test_every_layer_applies_the_one_claim_uid_rule(value: str, valid: bool) -> None:
    assert is_claim_uid(value) is valid
    assert (claim_uid_problem(value) is None) is valid
    outcomes: list[bool] = []
    for check, error in (
        (lambda: check_claim_uid(ClaimRef(value, "ns", "c")), PrepareError),
        (lambda: validate_claim_uid(value), CdiError),
        (
            lambda: CheckpointEntry(uid=value, namespace="ns", name="c", state=ClaimState.PREPARE_STARTED),
            ValueError,
        ),
    ):
        try:
            check()
        except error:
            outcomes.append(False)
        else:
            outcomes.append(True)
    assert outcomes == [valid, valid, valid], value


# ---- whole card -------------------------------------------------------------------------------

CARD = AcceleratorDevice(
    name="gpu-0",
    uuid="GPU-0",
    index=0,
    vendor="nvidia",
    device_type="gpu",
    product_name="A100",
    memory_bytes=40 * GIB,
    pci_bus_id="0000:17:00.0",
)
WHOLE_CASES = [
    # (published memory, published cores, whole card?)
    (None, None, True),
    (40 * GIB, 100, True),
    (40 * GIB, 0, True),  # HAMi-core: an SM limit of 0 is no limit; the catalog once said "not whole"
    (40 * GIB, 50, False),
    (20 * GIB, 100, False),
    (20 * GIB, None, False),
    (None, 25, False),
]


@pytest.mark.parametrize(("memory", "cores", "whole"), WHOLE_CASES)
def test_catalog_limits_and_interception_agree_on_the_whole_card(
    memory: int | None, cores: int | None, whole: bool
) -> None:
    assert is_whole_card(memory, cores, CARD.memory_bytes) is whole
    capacity = {
        **({MEMORY: memory} if memory is not None else {}),
        **({CORES: cores} if cores is not None else {}),
    }
    entry = CatalogEntry(name="gpu-0", card=CARD, capacity=capacity, multiple_allocations=False)
    assert entry.is_whole_card is whole
    result = AllocationResult(device="gpu-0", driver="d", pool="p", request="r")
    (allocated,) = device_limits(ClaimRef(UID, "ns", "c"), (result,), DeviceCatalog([entry]))
    assert allocated.unlimited is whole
    limit = DeviceLimit(CARD, allocated.memory_mib, allocated.cores_percent)
    assert limit.is_whole_card is whole


def test_a_shared_device_is_never_the_whole_card() -> None:
    capacity = {MEMORY: CARD.memory_bytes, CORES: FULL_CORES}
    assert not CatalogEntry(
        name="gpu-0", card=CARD, capacity=capacity, multiple_allocations=True
    ).is_whole_card


@pytest.mark.parametrize(
    ("cores", "unlimited"), [(None, True), (0, True), (1, False), (99, False), (100, True)]
)
def test_cores_rule(cores: int | None, unlimited: bool) -> None:
    assert cores_unlimited(cores) is unlimited
    limit = DeviceLimit(CARD, None, cores)
    assert limit.cores_limited is not unlimited
    assert limit.sm_limit_percent == (FULL_CORES if unlimited else cores)


# ---- full cores and capacity names: defined once ----------------------------------------------


def test_full_cores_and_capacity_names_are_assigned_only_in_rules() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _modules()
        for node in tree.body  # module constants (an enum member may reuse a name, e.g. Role.MEMORY)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id in {"FULL_CORES", "MEMORY", "CORES", "CAPACITY_NAMES"}
    ]
    assert offenders == [], "define these once, in dra_driver/rules/capacity.py"


# Not a device capacity: the same word in another vocabulary.
OTHER_VOCABULARY = {"realcluster/cluster.py"}  # a Node's own status.capacity (cpu, memory, pods)


def test_no_module_spells_a_capacity_name_as_a_literal() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _modules()
        if str(path.relative_to(PACKAGE)) not in OTHER_VOCABULARY
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in (MEMORY, CORES)
    ]
    assert offenders == [], "use dra_driver.rules.MEMORY / CORES"


# ---- priority values ----------------------------------------------------------------------------


@pytest.mark.parametrize("priority", list(Priority))
def test_one_priority_enum_feeds_parameters_webhook_and_hami_core(priority: Priority, tmp_path: Path) -> None:
    assert priority.value in PRIORITIES
    config = decode_config(
        {"apiVersion": API_VERSION, "kind": KIND, "priority": priority.value}, driver="nvidia.hdra.io"
    )
    assert config.priority is priority
    assert Priority.from_hami_level(priority.hami_level) is priority
    # HAMi's pod level and HAMi-core's CUDA_TASK_PRIORITY number priorities the same way.
    settings = InterceptionSettings(host_library_dir=tmp_path, state_dir=tmp_path, lock_dir=tmp_path)
    edits = build_hami_core_edits(
        UID, [DeviceLimit(CARD, 1024, 50)], HamiCoreOptions(priority=priority), settings, with_library=False
    )
    env = dict(item.split("=", 1) for item in edits.edits.env)
    assert env["CUDA_TASK_PRIORITY"] == str(priority.hami_level) == str(priority.cuda_task_priority)


def test_priority_values_match_hami() -> None:
    """HAMi pkg/device/nvidia: nvidia.com/priority 0 is high, 1 is low; nothing else is a level."""
    assert Priority.from_hami_level(0) is Priority.HIGH
    assert Priority.from_hami_level(1) is Priority.LOW
    assert Priority.from_hami_level(2) is None


def test_priority_is_mapped_only_in_rules() -> None:
    """No module keeps its own level table: dict literals mapping 0/1 to priorities or back."""
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            texts = {ast.unparse(k) for k in node.keys if k is not None} | {
                ast.unparse(v) for v in node.values
            }
            if {"0", "1"} <= texts and any("HIGH" in t or "high" in t for t in texts):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
