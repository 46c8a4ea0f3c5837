"""HAMi-style pod → ResourceClaimTemplate + JSON patch, table-driven over every resource and annotation.

Every generated template (and converted pod) must pass ``kubernetes_validate`` for 1.36 strictly;
every bad input is denied with a message naming the pod, the container and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import kubernetes_validate
import pytest

from dra_driver.parameters import decode_config
from dra_driver.webhook import Card, Denial, apply_patch, convert_pod, json_patch
from tests.webhook.support import pod

GIB = 1024**3
NV = '"nvidia.hdra.io"'
A = f"device.attributes[{NV}]"


def _types(driver: str, *types: str) -> str:
    attrs = f'device.attributes["{driver}"]'
    tests = " || ".join(f'{attrs}.productName.lowerAscii().contains("{t}")' for t in types)
    return f'"productName" in {attrs} && ({tests})'


def _uuids(driver: str, *uuids: str) -> str:
    attrs = f'device.attributes["{driver}"]'
    return f'"uuid" in {attrs} && {attrs}.uuid in [{", ".join(json.dumps(u) for u in uuids)}]'


def _size(driver: str, size: str) -> str:
    cap = f'device.capacity["{driver}"]'
    return f'"memory" in {cap} && {cap}.memory.compareTo(quantity("{size}")) == 0'


def _whole(driver: str) -> str:
    """Only whole cards: replicas and partitions carry parentUUID (DESIGN §4, issue 18 item 7)."""
    return f'!("parentUUID" in device.attributes["{driver}"])'


def _sel(*expressions: str) -> dict[str, Any]:
    return {"selectors": [{"cel": {"expression": e}} for e in expressions]}


def _exact(
    cls: str, count: int = 1, *, memory: str | None = None, cores: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"deviceClassName": cls, **extra, "allocationMode": "ExactCount", "count": count}
    requests = {k: v for k, v in (("memory", memory), ("cores", cores)) if v is not None}
    if requests:
        body["capacity"] = {"requests": requests}
    return body


def _config(request: str, driver: str, priority: str) -> dict[str, Any]:
    params = {
        "apiVersion": "hdra.io/v1alpha1",
        "kind": "AcceleratorConfig",
        "corePolicy": "default",
        "priority": priority,
        "enforcement": "auto",
    }
    return {"requests": [request], "opaque": {"driver": driver, "parameters": params}}


def _distinct(request: str, driver: str) -> dict[str, Any]:
    return {"requests": [request], "distinctAttribute": f"{driver}/uuid"}


NVD = "nvidia.hdra.io"
CARDS = [
    Card(NVD, "NVIDIA A100-SXM4-40GB", "GPU-a100-0", 40 * GIB),
    Card(NVD, "NVIDIA A100-SXM4-40GB", "GPU-a100-1", 40 * GIB),
    Card(NVD, "Tesla V100-SXM2-32GB", "GPU-v100-0", 32 * GIB),
    Card(NVD, "NVIDIA H200", "GPU-h200-0", 141 * GIB),
]


def cards(driver: str) -> Sequence[Card]:
    return [card for card in CARDS if card.driver == driver]


def _sized(
    name: str, size: str, memory: str, count: int = 1, *extra_sel: str, cores: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        **_exact(NVD, count, memory=memory, cores=cores, **_sel(*extra_sel, _size(NVD, size))),
    }


def _pattern(regex: str) -> str:
    attrs = 'device.attributes["ascend.hdra.io"]'
    return f'"productName" in {attrs} && {attrs}.productName.lowerAscii().matches("{regex}")'


ASCEND_B3 = _pattern("^(ascend)?910b3$")
# HAMi charts/hami/templates/scheduler/device-configmap.yaml: the 910C's chipName is "Ascend910".
ASCEND_C = _pattern("^(ascend)?910c?$")
AMD = "amd.hdra.io"

# (id, limits, annotations, expected devices of the one generated claim)
CASES: list[tuple[str, dict[str, Any], dict[str, str], dict[str, Any]]] = [
    (
        "gpu-only-exclusive",
        {"nvidia.com/gpu": 1},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, cores="100", **_sel(_whole(NVD)))}]},
    ),
    (
        "gpumem",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000"},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, memory="3000Mi")}]},
    ),
    (
        "two-cards-mem-cores",
        {"nvidia.com/gpu": "2", "nvidia.com/gpumem": "3000", "nvidia.com/gpucores": "30"},
        {},
        {
            "requests": [{"name": "gpu", "exactly": _exact(NVD, 2, memory="3000Mi", cores="30")}],
            "constraints": [_distinct("gpu", NVD)],
        },
    ),
    (
        "mem-without-count",
        {"nvidia.com/gpumem": "4k"},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, memory="4000Mi")}]},
    ),
    (
        "cores-without-count",
        {"nvidia.com/gpucores": "50"},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, cores="50")}]},
    ),
    (
        "cores-zero",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "100", "nvidia.com/gpucores": "0"},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, memory="100Mi")}]},
    ),
    (
        "priority-high",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "1024", "nvidia.com/priority": "0"},
        {},
        {
            "requests": [{"name": "gpu", "exactly": _exact(NVD, memory="1024Mi")}],
            "config": [_config("gpu", NVD, "high")],
        },
    ),
    (
        "priority-low",
        {"nvidia.com/gpu": "1", "nvidia.com/priority": "1"},
        {},
        {
            "requests": [{"name": "gpu", "exactly": _exact(NVD, cores="100", **_sel(_whole(NVD)))}],
            "config": [_config("gpu", NVD, "low")],
        },
    ),
    (
        "percentage",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "25", "nvidia.com/gpucores": "20"},
        {},
        {
            "requests": [
                {
                    "name": "gpu",
                    "firstAvailable": [
                        _sized("mem-32gi", "32Gi", "8192Mi", cores="20"),
                        _sized("mem-40gi", "40Gi", "10240Mi", cores="20"),
                        _sized("mem-141gi", "141Gi", "36096Mi", cores="20"),
                    ],
                }
            ]
        },
    ),
    (
        "percentage-rounds-up-and-full-is-exclusive",
        {"nvidia.com/gpumem-percentage": "100"},
        {"nvidia.com/use-gputype": "h200"},
        {
            "requests": [
                {
                    "name": "gpu",
                    "firstAvailable": [
                        _sized("mem-141gi", "141Gi", "144384Mi", 1, _types(NVD, "h200"), cores="100")
                    ],
                }
            ]
        },
    ),
    (
        "percentage-two-cards-filtered-by-uuid",
        {"nvidia.com/gpu": "2", "nvidia.com/gpumem-percentage": "33"},
        {"nvidia.com/nouse-gpuuuid": "GPU-v100-0,GPU-h200-0"},
        {
            "requests": [
                {
                    "name": "gpu",
                    "firstAvailable": [
                        _sized(
                            "mem-40gi",
                            "40Gi",
                            "13517Mi",
                            2,
                            "!(" + _uuids(NVD, "GPU-v100-0", "GPU-h200-0") + ")",
                        ),
                    ],
                }
            ],
            "constraints": [_distinct("gpu", NVD)],
        },
    ),
    (
        "gpumem-wins-over-percentage",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "2048", "nvidia.com/gpumem-percentage": "50"},
        {},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, memory="2048Mi")}]},
    ),
    (
        "type-and-uuid-annotations",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000"},
        {
            "nvidia.com/use-gputype": "A100, H200,",
            "nvidia.com/nouse-gputype": "v100",
            "nvidia.com/use-gpuuuid": "GPU-a,GPU-b",
            "nvidia.com/nouse-gpuuuid": "GPU-c",
        },
        {
            "requests": [
                {
                    "name": "gpu",
                    "exactly": _exact(
                        NVD,
                        memory="1000Mi",
                        **_sel(
                            _types(NVD, "a100", "h200"),
                            "!(" + _types(NVD, "v100") + ")",
                            _uuids(NVD, "GPU-a", "GPU-b"),
                            "!(" + _uuids(NVD, "GPU-c") + ")",
                        ),
                    ),
                }
            ]
        },
    ),
    (
        "empty-annotations-mean-no-constraint",
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000"},
        {"nvidia.com/use-gpuuuid": "", "nvidia.com/nouse-gputype": " , "},
        {"requests": [{"name": "gpu", "exactly": _exact(NVD, memory="1000Mi")}]},
    ),
    (
        "cambricon",
        {
            "cambricon.com/vmlu": "1",
            "cambricon.com/mlu.smlu.vmemory": "4",
            "cambricon.com/mlu.smlu.vcore": "20",
        },
        {
            "cambricon.com/use-mlutype": "MLU370",
            "cambricon.com/nouse-mlutype": "mlu290",
            "cambricon.com/use-gpuuuid": "MLU-1",
        },
        {
            "requests": [
                {
                    "name": "mlu",
                    "exactly": _exact(
                        "cambricon.hdra.io",
                        memory="1024Mi",
                        cores="20",
                        **_sel(
                            _types("cambricon.hdra.io", "mlu370"),
                            "!(" + _types("cambricon.hdra.io", "mlu290") + ")",
                            _uuids("cambricon.hdra.io", "MLU-1"),
                        ),
                    ),
                }
            ]
        },
    ),
    (
        # HAMi pkg/device/amd/device.go: amd.com/gpu, gpumem (MiB), gpucores (%), use-/nouse-gputype
        # (substring of the product name) and use-/nouse-gpu-uuid.
        "amd-hami-pod",
        {"amd.com/gpu": "1", "amd.com/gpumem": "16384", "amd.com/gpucores": "25"},
        {"amd.com/use-gputype": "MI300X", "amd.com/nouse-gpu-uuid": "GPU-bad"},
        {
            "requests": [
                {
                    "name": "amd-gpu",
                    "exactly": _exact(
                        AMD,
                        memory="16384Mi",
                        cores="25",
                        **_sel(_types(AMD, "mi300x"), "!(" + _uuids(AMD, "GPU-bad") + ")"),
                    ),
                }
            ]
        },
    ),
    (
        # GenerateResourceRequests: no amd.com/gpucores means 100 % of the CUs.
        "amd-default-cores",
        {"amd.com/gpu": "2", "amd.com/gpumem": "8192"},
        {"amd.com/use-gpu-uuid": "GPU-a,GPU-b"},
        {
            "requests": [
                {
                    "name": "amd-gpu",
                    "exactly": _exact(
                        AMD, 2, memory="8192Mi", cores="100", **_sel(_uuids(AMD, "GPU-a", "GPU-b"))
                    ),
                }
            ],
            "constraints": [_distinct("amd-gpu", AMD)],
        },
    ),
    (
        # HAMi pkg/device/cambricon/device.go: MLUNoUseUUID, and cores default to 100.
        "cambricon-nouse-uuid-default-cores",
        {"cambricon.com/vmlu": "1", "cambricon.com/mlu.smlu.vmemory": "8"},
        {"cambricon.com/nouse-gpuuuid": "MLU-2"},
        {
            "requests": [
                {
                    "name": "mlu",
                    "exactly": _exact(
                        "cambricon.hdra.io",
                        memory="2048Mi",
                        cores="100",
                        **_sel("!(" + _uuids("cambricon.hdra.io", "MLU-2") + ")"),
                    ),
                }
            ]
        },
    ),
    (
        # HAMi pkg/device/ascend/device.go MutateAdmission: several chips with memory are refused only
        # outside hami-core mode; in hami-core each chip gets the memory and cores asked for.
        "ascend-multi-hami-core",
        {
            "huawei.com/Ascend910B3": "2",
            "huawei.com/Ascend910B3-memory": "32768",
            "huawei.com/Ascend910B3-core": "50",
        },
        {"huawei.com/vnpu-mode": "hami-core"},
        {
            "requests": [
                {
                    "name": "ascend910b3",
                    "exactly": _exact("ascend.hdra.io", 2, memory="32768Mi", cores="50", **_sel(ASCEND_B3)),
                }
            ],
            "constraints": [_distinct("ascend910b3", "ascend.hdra.io")],
        },
    ),
    (
        "ascend-910b3-hami-core",
        {
            "huawei.com/Ascend910B3": "1",
            "huawei.com/Ascend910B3-memory": "16384",
            "huawei.com/Ascend910B3-core": "50",
        },
        {
            "huawei.com/vnpu-mode": "hami-core",
            "hami.io/use-Ascend910B3-uuid": "npu-1",
            "hami.io/no-use-Ascend910B3-uuid": "npu-2",
        },
        {
            "requests": [
                {
                    "name": "ascend910b3",
                    "exactly": _exact(
                        "ascend.hdra.io",
                        memory="16384Mi",
                        cores="50",
                        **_sel(
                            ASCEND_B3,
                            _uuids("ascend.hdra.io", "npu-1"),
                            "!(" + _uuids("ascend.hdra.io", "npu-2") + ")",
                        ),
                    ),
                }
            ]
        },
    ),
    (
        "ascend-910c-pairs",
        {"huawei.com/Ascend910C": "1"},
        {},
        {
            "requests": [{"name": "ascend910c", "exactly": _exact("ascend.hdra.io", 2, **_sel(ASCEND_C))}],
            "constraints": [_distinct("ascend910c", "ascend.hdra.io")],
        },
    ),
    (
        "hygon",
        {"hygon.com/dcunum": "2", "hygon.com/dcumem": "8000", "hygon.com/dcucores": "25"},
        {
            "hygon.com/use-dcutype": "K100",
            "hygon.com/nouse-dcutype": "Z100",
            "hygon.com/use-gpuuuid": "DCU-1,DCU-2",
            "hygon.com/nouse-gpuuuid": "DCU-3",
        },
        {
            "requests": [
                {
                    "name": "dcu",
                    "exactly": _exact(
                        "hygon.hdra.io",
                        2,
                        memory="8000Mi",
                        cores="25",
                        **_sel(
                            _types("hygon.hdra.io", "k100"),
                            "!(" + _types("hygon.hdra.io", "z100") + ")",
                            _uuids("hygon.hdra.io", "DCU-1", "DCU-2"),
                            "!(" + _uuids("hygon.hdra.io", "DCU-3") + ")",
                        ),
                    ),
                }
            ],
            "constraints": [_distinct("dcu", "hygon.hdra.io")],
        },
    ),
    (
        "two-vendors-one-container",
        {
            "nvidia.com/gpu": "1",
            "nvidia.com/gpumem": "500",
            "hygon.com/dcunum": "1",
            "hygon.com/dcumem": "600",
        },
        {"nvidia.com/use-gputype": "a100"},
        {
            "requests": [
                {"name": "gpu", "exactly": _exact(NVD, memory="500Mi", **_sel(_types(NVD, "a100")))},
                {"name": "dcu", "exactly": _exact("hygon.hdra.io", memory="600Mi")},
            ]
        },
    ),
]


def _validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.36.0", strict=True)


@pytest.mark.parametrize(
    ("limits", "annotations", "devices"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_conversion_table(
    limits: dict[str, Any], annotations: dict[str, str], devices: dict[str, Any]
) -> None:
    original = pod({**limits, "cpu": "1"}, annotations=annotations)
    result = convert_pod(original, namespace="team-a", cards=cards)

    (claim,) = result.claims
    template = claim.template
    assert template["spec"]["spec"]["devices"] == devices
    _validate(template)
    _validate(result.pod)
    assert template["metadata"]["namespace"] == "team-a"
    assert template["metadata"]["name"].startswith("hdra-main-")
    assert len(template["metadata"]["name"]) == len("hdra-main-") + 10
    for config in devices.get("config", []):
        decode_config(config["opaque"]["parameters"], driver=config["opaque"]["driver"])

    # The pod: HAMi resources gone (cpu stays), the claim referenced, and the patch says exactly that.
    container = result.pod["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1"}
    assert container["resources"]["claims"] == [{"name": "hdra-main"}]
    assert result.pod["spec"]["resourceClaims"] == [
        {"name": "hdra-main", "resourceClaimTemplateName": claim.template_name}
    ]
    patch = json_patch(original, result.pod)
    assert apply_patch(original, patch) == result.pod
    removed = sorted(op["path"] for op in patch if op["op"] == "remove")
    assert removed == sorted("/spec/containers/0/resources/limits/" + n.replace("/", "~1") for n in limits)


def test_patch_is_exactly_the_rfc6902_operations() -> None:
    original = pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000"})
    result = convert_pod(original, namespace="default", cards=None)
    name = result.claims[0].template_name
    assert json_patch(original, result.pod) == [
        {"op": "remove", "path": "/spec/containers/0/resources/limits"},
        {"op": "add", "path": "/spec/containers/0/resources/claims", "value": [{"name": "hdra-main"}]},
        {
            "op": "add",
            "path": "/spec/resourceClaims",
            "value": [{"name": "hdra-main", "resourceClaimTemplateName": name}],
        },
    ]


def test_requests_only_are_converted_and_removed() -> None:
    original = pod(None, requests={"nvidia.com/gpu": "1", "nvidia.com/gpumem": "2000", "memory": "1Gi"})
    result = convert_pod(original, namespace="default", cards=None)
    assert result.claims[0].template["spec"]["spec"]["devices"]["requests"][0]["exactly"]["capacity"] == {
        "requests": {"memory": "2000Mi"}
    }
    assert result.pod["spec"]["containers"][0]["resources"] == {
        "requests": {"memory": "1Gi"},
        "claims": [{"name": "hdra-main"}],
    }


def test_each_container_and_init_container_gets_its_own_claim() -> None:
    original = pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000"})
    original["spec"]["containers"].append(
        {"name": "side", "image": "busybox", "resources": {"limits": {"nvidia.com/gpumem": "1000"}}}
    )
    original["spec"]["containers"].append({"name": "plain", "image": "busybox"})
    original["spec"]["initContainers"] = [
        {"name": "warmup", "image": "busybox", "resources": {"limits": {"hygon.com/dcunum": "1"}}}
    ]
    result = convert_pod(original, namespace="default", cards=None)
    assert [c.container for c in result.claims] == ["warmup", "main", "side"]
    # main and side ask for the same thing but are different containers: different names, same spec.
    main, side = result.claims[1].template, result.claims[2].template
    assert main["spec"] == side["spec"]
    assert main["metadata"]["name"][-10:] == side["metadata"]["name"][-10:]
    assert main["metadata"]["name"] != side["metadata"]["name"]
    assert [e["name"] for e in result.pod["spec"]["resourceClaims"]] == [
        "hdra-warmup",
        "hdra-main",
        "hdra-side",
    ]
    assert result.pod["spec"]["initContainers"][0]["resources"] == {"claims": [{"name": "hdra-warmup"}]}
    assert "resources" not in result.pod["spec"]["containers"][2]
    for claim in result.claims:
        _validate(claim.template)
    _validate(result.pod)


def test_same_spec_same_name_and_converted_pod_is_left_alone() -> None:
    first = convert_pod(
        pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000"}, name="a"), namespace="ns", cards=None
    )
    second = convert_pod(
        pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000"}, name="b"), namespace="ns", cards=None
    )
    other = convert_pod(
        pod({"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3001"}, name="c"), namespace="ns", cards=None
    )
    assert first.claims[0].template == second.claims[0].template
    assert first.claims[0].template_name != other.claims[0].template_name

    again = convert_pod(first.pod, namespace="ns", cards=None)
    assert again.claims == ()
    assert again.pod == first.pod
    assert json_patch(first.pod, again.pod) == []


def test_long_container_names_give_valid_claim_names() -> None:
    long = "c" * 63
    result = convert_pod(pod({"nvidia.com/gpu": "1"}, container=long), namespace="default", cards=None)
    entry = result.pod["spec"]["resourceClaims"][0]["name"]
    assert len(entry) <= 63
    assert entry.startswith("hdra-ccc")
    _validate(result.pod)
    _validate(result.claims[0].template)


# (id, limits, annotations, cards available, fragments the message must contain)
BAD: list[tuple[str, dict[str, Any], dict[str, str], bool, list[str]]] = [
    (
        "not-a-number",
        {"nvidia.com/gpumem": "lots"},
        {},
        True,
        ["nvidia.com/gpumem", "'lots'", "not a number"],
    ),
    ("fraction", {"nvidia.com/gpumem": "1.5"}, {}, True, ["nvidia.com/gpumem", "'1.5'", "not a whole"]),
    # issue 18 item 16: HAMi reads gpumem with Quantity.AsInt64 into an int32 (device.go
    # GenerateResourceRequests): 3Gi is 3221225472 MiB, refused; hdra made a 3221225472Mi template
    (
        "suffix-too-large",
        {"nvidia.com/gpumem": "3Gi"},
        {},
        True,
        ["nvidia.com/gpumem value '3Gi' is too large (at most 2147483647)", "3Gi is 3221225472"],
    ),
    (
        "huge-number",
        {"nvidia.com/gpumem": "999999999999999999999"},
        {},
        True,
        ["nvidia.com/gpumem value '999999999999999999999' is too large (at most 2147483647)"],
    ),
    (
        "count-over-int32",
        {"nvidia.com/gpu": "4294967296"},
        {},
        True,
        ["nvidia.com/gpu value '4294967296' is too large (at most 2147483647)"],
    ),
    (
        "negative",
        {"nvidia.com/gpucores": "-5"},
        {},
        True,
        ["nvidia.com/gpucores", "'-5'", "not a whole non-negative"],
    ),
    (
        "cores-over-100",
        {"nvidia.com/gpu": "1", "nvidia.com/gpucores": "150"},
        {},
        True,
        ["nvidia.com/gpucores is 150", "0 to 100"],
    ),
    (
        "percentage-over-100",
        {"nvidia.com/gpumem-percentage": "101"},
        {},
        True,
        ["nvidia.com/gpumem-percentage is 101", "1 to 100"],
    ),
    (
        "percentage-zero",
        {"nvidia.com/gpumem-percentage": "0"},
        {},
        True,
        ["nvidia.com/gpumem-percentage is 0"],
    ),
    (
        "zero-cards",
        {"nvidia.com/gpu": "0", "nvidia.com/gpumem": "100"},
        {},
        True,
        ["nvidia.com/gpu is 0", "at least 1 card"],
    ),
    ("zero-memory", {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "0"}, {}, True, ["nvidia.com/gpumem is 0"]),
    (
        "bad-priority",
        {"nvidia.com/gpu": "1", "nvidia.com/priority": "2"},
        {},
        True,
        ["nvidia.com/priority is 2", "0 (high) or 1 (low)"],
    ),
    (
        "unknown-nvidia",
        {"nvidia.com/gpu": "1", "nvidia.com/gpux": "1"},
        {},
        True,
        ["unknown resource 'nvidia.com/gpux'", "nvidia.com/gpumem"],
    ),
    (
        "unknown-ascend",
        {"huawei.com/Ascend999": "1"},
        {},
        True,
        ["unknown resource 'huawei.com/Ascend999'", "huawei.com/Ascend910B3"],
    ),
    ("unknown-cambricon", {"cambricon.com/mlu": "1"}, {}, True, ["unknown resource 'cambricon.com/mlu'"]),
    (
        "type-used-and-refused",
        {"nvidia.com/gpu": "1"},
        {"nvidia.com/use-gputype": "A100,H200", "nvidia.com/nouse-gputype": "a100"},
        True,
        ["nvidia.com/use-gputype", "nvidia.com/nouse-gputype", "'a100'"],
    ),
    (
        "uuid-used-and-refused",
        {"hygon.com/dcunum": "1"},
        {"hygon.com/use-gpuuuid": "DCU-1", "hygon.com/nouse-gpuuuid": "DCU-2,DCU-1"},
        True,
        ["hygon.com/use-gpuuuid", "hygon.com/nouse-gpuuuid", "'DCU-1'"],
    ),
    (
        "ascend-core-needs-hami-core",
        {"huawei.com/Ascend910B3": "1", "huawei.com/Ascend910B3-core": "10"},
        {},
        True,
        ["huawei.com/Ascend910B3-core", "huawei.com/vnpu-mode: hami-core"],
    ),
    ("ascend-910c-odd", {"huawei.com/Ascend910C": "3"}, {}, True, ["huawei.com/Ascend910C is 3", "even"]),
    (
        "amd-cores-zero",
        {"amd.com/gpu": "1", "amd.com/gpucores": "0"},
        {},
        True,
        ["amd.com/gpucores is 0", "1 to 100"],
    ),
    (
        "amd-unknown-resource",
        {"amd.com/gpu": "1", "amd.com/vram": "1"},
        {},
        True,
        ["unknown resource 'amd.com/vram' under amd.com/", "amd.com/gpumem"],
    ),
    (
        "ascend-multi-with-memory",
        {"huawei.com/Ascend910B4": "2", "huawei.com/Ascend910B4-memory": "8192"},
        {},
        True,
        ["huawei.com/Ascend910B4 is 2", "whole chips"],
    ),
    (
        "percentage-no-client",
        {"nvidia.com/gpumem-percentage": "50"},
        {},
        False,
        ["nvidia.com/gpumem-percentage", "no API client"],
    ),
    (
        "percentage-no-matching-card",
        {"nvidia.com/gpumem-percentage": "50"},
        {"nvidia.com/use-gputype": "B200"},
        True,
        ["no ResourceSlice of driver nvidia.hdra.io"],
    ),
]


@pytest.mark.parametrize(
    ("limits", "annotations", "with_cards", "fragments"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_inputs_are_denied_naming_the_problem(
    limits: dict[str, Any], annotations: dict[str, str], with_cards: bool, fragments: list[str]
) -> None:
    with pytest.raises(Denial) as caught:
        convert_pod(
            pod(limits, annotations=annotations), namespace="default", cards=cards if with_cards else None
        )
    message = caught.value.message
    assert message.startswith("pod default/trainer")
    for fragment in fragments:
        assert fragment in message, message


def test_request_differing_from_limit_is_denied() -> None:
    bad = pod({"nvidia.com/gpu": "1"}, requests={"nvidia.com/gpu": "2"})
    with pytest.raises(
        Denial, match=r'container "main": nvidia.com/gpu request .2. differs from its limit .1.'
    ):
        convert_pod(bad, namespace="default", cards=None)


def test_existing_claim_entry_with_the_generated_name_is_denied() -> None:
    bad = pod({"nvidia.com/gpu": "1"})
    bad["spec"]["resourceClaims"] = [{"name": "hdra-main", "resourceClaimName": "mine"}]
    with pytest.raises(Denial, match="already has an entry named 'hdra-main'"):
        convert_pod(bad, namespace="default", cards=None)


def test_generate_name_pods_are_named_in_messages() -> None:
    bad = pod({"nvidia.com/gpumem": "x"})
    del bad["metadata"]["name"]
    bad["metadata"]["generateName"] = "job-"
    with pytest.raises(Denial, match=r'^pod default/job-\* container "main"'):
        convert_pod(bad, namespace="default", cards=None)


def test_too_many_card_sizes_for_first_available() -> None:
    many = [Card(NVD, "NVIDIA X", f"GPU-{i}", (10 + i) * GIB) for i in range(9)]
    with pytest.raises(Denial, match=r"would need 9 alternatives.*at most 8"):
        convert_pod(pod({"nvidia.com/gpumem-percentage": "10"}), namespace="default", cards=lambda d: many)
