"""Fuzz ResourceClaims and their allocation results through the pure parts of prepare and the
simulator: ``device_limits`` (against a catalog built from real mock slices) raises only
``PrepareError`` naming the claim; ``ClusterState.place_pod``/``explain_claim`` return a result or
raise ``AllocationError`` with a message, never anything else."""

# ruff: noqa: PT017 - a fuzzed input may legitimately succeed or fail, so the error is checked in place

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.prepare.api import ClaimRef, PrepareError
from dra_driver.prepare.catalog import DeviceCatalog
from dra_driver.prepare.claims import AllocationResult
from dra_driver.prepare.limits import device_limits
from dra_driver.sim import AllocationError, ClusterState, Pending, Placement, explain_claim
from dra_driver.slices import SharingMode, build_slices
from tests.fuzz.profile import FUZZ, fuzz

NODE = "fuzz-node"
DRIVER = "mock.hdra.io"
CLAIM = ClaimRef("3f2c1e2a-0b1c-4d5e-8f90-123456789abc", "team-a", "fuzzed")
MODES = [SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS, SharingMode.EXCLUSIVE]

quantities = st.one_of(
    st.sampled_from(
        ["1", "0", "100", "101", "-1", "3000Mi", "40Gi", "1.5", "1e3", "10m", "Gi", "", " 1", "9" * 40]
    ),
    st.integers(min_value=-(2**40), max_value=2**50).map(str),
    st.text(max_size=8),
)


@cache
def _cards() -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=NODE, profile="mixed").discover()


@cache
def _catalog(mode: SharingMode) -> DeviceCatalog:
    return DeviceCatalog.from_slices(
        _cards(), build_slices(_cards(), driver=DRIVER, node_name=NODE, mode=mode)
    )


@cache
def _slices() -> list[dict[str, Any]]:
    built = build_slices(_cards(), driver=DRIVER, node_name=NODE, mode=SharingMode.CAPACITY)
    return [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in built]


@st.composite
def allocation_results(draw: st.DrawFn, mode: SharingMode) -> AllocationResult:
    names = _catalog(mode).names()
    device = draw(st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=10)))
    consumed = draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["memory", "cores", "shares", "x"]), quantities, max_size=4),
        )
    )
    return AllocationResult(
        request="gpu", driver=DRIVER, pool=NODE, device=device, consumed_capacity=consumed
    )


@FUZZ
@given(data=st.data(), mode=st.sampled_from(MODES))
def test_device_limits_are_limits_or_a_prepare_error_naming_the_claim(
    data: st.DataObject, mode: SharingMode
) -> None:
    results = tuple(data.draw(st.lists(allocation_results(mode), min_size=1, max_size=3)))
    try:
        limits = device_limits(CLAIM, results, _catalog(mode))
    except PrepareError as exc:
        assert str(CLAIM) in str(exc), f"the error does not name the claim: {exc}"
        return
    for allocated in limits:
        card_mib = allocated.entry.card.memory_bytes // 2**20
        assert allocated.memory_mib is None or 1 <= allocated.memory_mib <= card_mib
        assert allocated.cores_percent is None or 0 < allocated.cores_percent < 100


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**33), st.text(max_size=8), quantities)
json_any = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
SELECTORS = [
    'device.driver == "mock.hdra.io"',
    "device.capacity['mock.hdra.io'].memory.compareTo(quantity('20Gi')) >= 0",
    "device.attributes['mock.hdra.io'].productName.startsWith('A100')",
    "device.nonexistent.field",
    "1 +",
    "true",
    "'a' == 1",
]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    exactly: dict[str, Any] = {
        "deviceClassName": draw(st.sampled_from([DRIVER, "nvidia.hdra.io", "", "nope"]))
    }
    if draw(st.booleans()):
        exactly["count"] = draw(st.one_of(st.integers(-2, 40), json_leaf))
    if draw(st.booleans()):
        exactly["allocationMode"] = draw(st.sampled_from(["ExactCount", "All", "Bogus", None]))
    if draw(st.booleans()):
        exactly["selectors"] = [
            {"cel": {"expression": e}} for e in draw(st.lists(st.sampled_from(SELECTORS), max_size=2))
        ]
    if draw(st.booleans()):
        exactly["capacity"] = {
            "requests": draw(
                st.dictionaries(st.sampled_from(["memory", "cores", "x"]), quantities, max_size=3)
            )
        }
    if draw(st.integers(0, 9)) == 0:
        exactly = draw(st.dictionaries(st.text(max_size=10), json_any, max_size=3))
    name = draw(st.sampled_from(["gpu", "gpu", "b", "", "Bad_Name"]))
    if draw(st.integers(0, 7)) == 0:
        sub = {"name": "s", **exactly}
        return {"name": name, "firstAvailable": [sub]}
    return {"name": name, "exactly": exactly}


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    devices: dict[str, Any] = {"requests": draw(st.lists(requests(), max_size=3))}
    if draw(st.booleans()):
        devices["constraints"] = [
            {"requests": ["gpu"], "matchAttribute": draw(st.sampled_from(["mock.hdra.io/uuid", "x", ""]))}
        ]
    if draw(st.booleans()):
        devices["config"] = draw(
            st.lists(st.dictionaries(st.text(max_size=8), json_any, max_size=2), max_size=2)
        )
    claim: dict[str, Any] = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": draw(st.sampled_from(["c1", "c2", ""])), "namespace": "default"},
        "spec": {"devices": devices},
    }
    if draw(st.integers(0, 4)) == 0:
        # Junk inside the API shape; a non-object spec or allocation is the known crash below.
        devices["requests"] = draw(
            st.lists(st.dictionaries(st.sampled_from(["name", "exactly", "x"]), json_any), max_size=2)
        )
    if draw(st.integers(0, 3)) == 0:
        result = {
            "request": "gpu",
            "driver": DRIVER,
            "pool": draw(st.sampled_from([NODE, "other"])),
            "device": draw(st.sampled_from(["gpu-0", "gpu-1", "nope"])),
            "consumedCapacity": draw(
                st.dictionaries(st.sampled_from(["memory", "cores"]), quantities, max_size=2)
            ),
        }
        claim["status"] = {"allocation": {"devices": {"results": [result]}}}
    return claim


@fuzz(60)
@given(batch=st.lists(claims(), min_size=1, max_size=2))
def test_place_pod_places_pends_or_names_the_malformed_claim(batch: list[dict[str, Any]]) -> None:
    state = ClusterState(_slices(), seed=1)
    try:
        outcome = state.place_pod(batch)
    except AllocationError as exc:
        assert str(exc).strip()
        return
    assert isinstance(outcome, Placement | Pending)
    if isinstance(outcome, Pending):
        assert outcome.message.strip()


@fuzz(60)
@given(claim=claims())
def test_explain_claim_explains_or_names_the_malformed_claim(claim: dict[str, Any]) -> None:
    try:
        explanation = explain_claim(claim, ClusterState(_slices(), seed=1))
    except AllocationError as exc:
        assert str(exc).strip()
        return
    assert explanation is not None


KNOWN_TYPE_CRASHES = [
    {"metadata": {"name": "c1", "namespace": "default"}, "spec": 1},
    {
        "metadata": {"name": "c1", "namespace": "default"},
        "spec": {"devices": {"requests": []}},
        "status": {"allocation": {"devices": "x"}},
    },
    {"metadata": {"name": "c1", "namespace": "default"}, "spec": {"devices": {"requests": [None]}}},
]


@pytest.mark.parametrize(
    "claim",
    KNOWN_TYPE_CRASHES,
    ids=["spec-not-object", "allocation-devices-not-object", "request-not-object"],
)
def test_non_object_parts_are_an_allocation_error(claim: dict[str, Any]) -> None:
    with pytest.raises(AllocationError):
        explain_claim(claim, ClusterState(_slices(), seed=1))


@pytest.mark.parametrize("text", ["sNaN", "Infinity"])
def test_non_finite_consumed_capacity_is_a_prepare_error(text: str) -> None:
    catalog = _catalog(SharingMode.CAPACITY)
    result = AllocationResult(
        request="gpu", driver=DRIVER, pool=NODE, device=catalog.names()[0], consumed_capacity={"memory": text}
    )
    with pytest.raises(PrepareError):
        device_limits(CLAIM, (result,), catalog)
