"""Fuzz pods with HAMi resources and annotations through the webhook's conversion: the answer is a
converted pod (with one generated claim per asking container) or a ``Denial`` with a message."""

# ruff: noqa: PT017 - a fuzzed input may legitimately succeed or fail, so the error is checked in place

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dra_driver.webhook.convert import PodConversion, convert_pod
from dra_driver.webhook.errors import Denial
from tests.fuzz.profile import FUZZ

RESOURCES = [
    "nvidia.com/gpu",
    "nvidia.com/gpumem",
    "nvidia.com/gpumem-percentage",
    "nvidia.com/gpucores",
    "nvidia.com/priority",
    "cambricon.com/vmlu",
    "cambricon.com/mlu.smlu.vmemory",
    "cambricon.com/mlu.smlu.vcore",
    "hygon.com/dcunum",
    "hygon.com/dcumem",
    "hygon.com/dcucores",
    "huawei.com/Ascend910B3",
    "huawei.com/Ascend910B3-memory",
    "amd.com/gpu",
    "cpu",
    "memory",
]
ANNOTATIONS = [
    "nvidia.com/use-gputype",
    "nvidia.com/nouse-gputype",
    "nvidia.com/use-gpuuuid",
    "nvidia.com/nouse-gpuuuid",
    "cambricon.com/use-mlutype",
    "hygon.com/use-dcutype",
    "hami.io/gpu-scheduler-policy",
]
values = st.one_of(
    st.sampled_from(["1", "2", "0", "-1", "3000", "50", "100", "101", "1.5", "1Gi", "", "abc", "9" * 30]),
    st.integers(-3, 10**6).map(str),
    st.integers(0, 5),
    st.none(),
    st.text(max_size=8),
)
annotation_values = st.one_of(
    st.sampled_from(["A100", "A100,H200", "", ",", "GPU-1234"]), st.text(max_size=12)
)


@st.composite
def containers(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 15)) == 0:
        return draw(st.one_of(st.none(), st.text(max_size=4), st.integers()))
    resources: dict[str, Any] = {}
    for section in ("limits", "requests"):
        if draw(st.booleans()):
            resources[section] = draw(st.dictionaries(st.sampled_from(RESOURCES), values, max_size=4))
    container: dict[str, Any] = {"name": draw(st.sampled_from(["main", "side", "x" * 70, "", "Bad_Name"]))}
    if resources:
        container["resources"] = resources
    return container


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": draw(st.lists(containers(), max_size=3))}
    if draw(st.booleans()):
        spec["initContainers"] = draw(st.lists(containers(), max_size=2))
    if draw(st.integers(0, 5)) == 0:
        spec["resourceClaims"] = [{"name": draw(st.sampled_from(["main-gpu", "hdra-main", "x"]))}]
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": draw(st.sampled_from(["p", "", "pod-" + "a" * 60])),
            "annotations": draw(st.dictionaries(st.sampled_from(ANNOTATIONS), annotation_values, max_size=3)),
        },
        "spec": spec,
    }
    if draw(st.integers(0, 15)) == 0:
        pod["spec"] = draw(st.one_of(st.none(), st.text(max_size=3), st.lists(st.integers(), max_size=2)))
    return pod


@FUZZ
@given(pod=pods())
def test_a_pod_converts_or_is_denied_with_a_reason(pod: dict[str, Any]) -> None:
    try:
        conversion = convert_pod(pod, namespace="team-a", cards=None)
    except Denial as exc:
        assert exc.message.strip(), "a denial without a message"
        assert str(exc) == exc.message
        return
    assert isinstance(conversion, PodConversion)
    claims = {entry["name"] for entry in conversion.pod["spec"].get("resourceClaims") or []}
    for generated in conversion.claims:
        assert generated.claim_name in claims, f"{generated.claim_name} is not in the pod's resourceClaims"
        assert generated.template.get("kind") == "ResourceClaimTemplate"


def test_a_nan_quantity_is_denied() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "NaN"}}}]},
    }
    with pytest.raises(Denial, match="NaN"):
        convert_pod(pod, namespace="team-a", cards=None)
