"""The validating webhook: hdra parameters in claims, templates and classes (v1, v1beta2, v1beta1),
and the pod rule that one container never gets one driver's limits from two claims."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ResourceV1Api

from dra_driver.kube import KubeClient
from dra_driver.webhook import AdmissionHandler, driver_of_class
from tests.webhook.support import review

GOOD = {"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "priority": "high"}


def _opaque(driver: str, parameters: Any, requests: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"opaque": {"driver": driver, "parameters": parameters}}
    if requests is not None:
        config["requests"] = requests
    return config


def _devices(
    configs: list[dict[str, Any]], *, version: str = "v1", classes: tuple[str, ...] = ("nvidia.hdra.io",)
) -> dict[str, Any]:
    names = ["gpu", "other"][: len(classes)]
    if version == "v1beta1":
        requests = [
            {"name": n, "deviceClassName": c, "count": 1} for n, c in zip(names, classes, strict=True)
        ]
    else:
        requests = [
            {"name": n, "exactly": {"deviceClassName": c}} for n, c in zip(names, classes, strict=True)
        ]
    return {"requests": requests, "config": configs}


def _claim(devices: dict[str, Any], version: str = "v1", name: str = "claim-a") -> dict[str, Any]:
    return {
        "apiVersion": f"resource.k8s.io/{version}",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"devices": devices},
    }


def _template(devices: dict[str, Any], version: str = "v1", name: str = "tmpl-a") -> dict[str, Any]:
    return {
        "apiVersion": f"resource.k8s.io/{version}",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"spec": {"devices": devices}},
    }


def _validate(
    handler: AdmissionHandler, obj: dict[str, Any], kind: str, version: str = "v1", **options: Any
) -> dict[str, Any]:
    group = "" if kind == "Pod" else "resource.k8s.io"
    status, answer = handler.handle(
        "/validate", json.dumps(review(obj, kind=kind, group=group, version=version, **options)).encode()
    )
    assert status == 200
    response: dict[str, Any] = answer["response"]
    assert "patch" not in response
    return response


@pytest.mark.parametrize("version", ["v1", "v1beta2", "v1beta1"])
def test_invalid_config_in_a_claim_is_denied_naming_object_requests_and_field(version: str) -> None:
    handler = AdmissionHandler(None)
    devices = _devices([_opaque("nvidia.hdra.io", {**GOOD, "logLevel": 7}, ["gpu"])], version=version)
    response = _validate(handler, _claim(devices, version), "ResourceClaim", version)
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    message = response["status"]["message"]
    assert message.startswith("ResourceClaim default/claim-a: invalid hdra parameters: ")
    assert "config[0] for nvidia.hdra.io (request gpu)" in message
    assert "spec.devices.config[0].opaque.parameters.logLevel" in message


@pytest.mark.parametrize("version", ["v1", "v1beta2", "v1beta1"])
def test_template_configs_are_checked_with_their_path(version: str) -> None:
    handler = AdmissionHandler(None)
    devices = _devices(
        [
            _opaque("nvidia.hdra.io", GOOD),
            _opaque("hygon.hdra.io", {**GOOD, "ascend": {"vnpuTemplate": "vir05_1c_8g"}}),
        ],
        version=version,
        classes=("nvidia.hdra.io", "hygon.hdra.io"),
    )
    response = _validate(handler, _template(devices, version), "ResourceClaimTemplate", version)
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert message.startswith("ResourceClaimTemplate default/tmpl-a:")
    assert "config[1] for hygon.hdra.io (all requests (gpu, other))" in message
    assert "spec.spec.devices.config[1].opaque.parameters.ascend" in message
    assert "config[0]" not in message


def test_every_bad_config_is_reported_at_once() -> None:
    handler = AdmissionHandler(None)
    devices = _devices(
        [
            _opaque("nvidia.hdra.io", {"apiVersion": "hdra.io/v1", "kind": "AcceleratorConfig"}, ["gpu"]),
            _opaque("nvidia.hdra.io", {**GOOD, "bogus": 1}),
            _opaque("nvidia.hdra.io", None),
        ]
    )
    message = _validate(handler, _claim(devices), "ResourceClaim")["status"]["message"]
    assert "spec.devices.config[0].opaque.parameters.apiVersion: unsupported apiVersion" in message
    assert "spec.devices.config[1].opaque.parameters.bogus" in message
    assert "spec.devices.config[2].opaque.parameters: field required" in message


def test_valid_and_foreign_configs_are_allowed() -> None:
    handler = AdmissionHandler(None)
    devices = _devices([_opaque("nvidia.hdra.io", GOOD), _opaque("gpu.nvidia.com", {"anything": "goes"})])
    assert _validate(handler, _claim(devices), "ResourceClaim")["allowed"] is True
    assert _validate(handler, _template(devices), "ResourceClaimTemplate")["allowed"] is True


def test_device_class_configs_and_deletes() -> None:
    handler = AdmissionHandler(None)
    bad_class = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "nvidia.hdra.io"},
        "spec": {"config": [_opaque("nvidia.hdra.io", {**GOOD, "corePolicy": "sometimes"})]},
    }
    response = _validate(handler, bad_class, "DeviceClass", namespace="")
    assert response["allowed"] is False
    assert response["status"]["message"].startswith("DeviceClass nvidia.hdra.io:")
    assert "spec.config[0].opaque.parameters.corePolicy" in response["status"]["message"]
    deleting = review(None, kind="ResourceClaim", group="resource.k8s.io", operation="DELETE")
    status, answer = handler.handle("/validate", json.dumps(deleting).encode())
    assert (status, answer["response"]["allowed"]) == (200, True)


def _with_capacity(devices: dict[str, Any], amounts: dict[str, Any], version: str) -> dict[str, Any]:
    request = devices["requests"][0]
    target = request if version == "v1beta1" else request["exactly"]
    target["capacity"] = {"requests": amounts}
    return devices


@pytest.mark.parametrize("version", ["v1", "v1beta2", "v1beta1"])
def test_negative_capacity_request_of_an_hdra_class_is_denied(version: str) -> None:
    handler = AdmissionHandler(kube=None)
    devices = _with_capacity(_devices([], version=version), {"memory": "-1Gi", "cores": "10"}, version)
    response = _validate(handler, _claim(devices, version), "ResourceClaim", version)
    assert response["allowed"] is False
    where = "spec.devices.requests[0]" + ("" if version == "v1beta1" else ".exactly")
    assert response["status"]["message"] == (
        f"ResourceClaim default/claim-a: invalid hdra parameters: {where}.capacity.requests.memory: "
        "request gpu asks for -1Gi, a negative amount (the scheduler would round it up to the device's "
        "smallest step): ask for a positive amount"
    )
    template = _template(devices, version)
    message = _validate(handler, template, "ResourceClaimTemplate", version)["status"]["message"]
    assert "spec.spec.devices.requests[0]" in message and "-1Gi" in message


def test_negative_capacity_in_a_first_available_subrequest_is_denied() -> None:
    handler = AdmissionHandler(kube=None)
    devices = {
        "requests": [
            {
                "name": "gpu",
                "firstAvailable": [
                    {
                        "name": "big",
                        "deviceClassName": "nvidia.hdra.io",
                        "capacity": {"requests": {"cores": "50"}},
                    },
                    {
                        "name": "small",
                        "deviceClassName": "nvidia.hdra.io",
                        "capacity": {"requests": {"cores": "-5"}},
                    },
                ],
            }
        ]
    }
    message = _validate(handler, _claim(devices), "ResourceClaim")["status"]["message"]
    assert (
        "spec.devices.requests[0].firstAvailable[1].capacity.requests.cores: request gpu/small asks for -5"
        in message
    )
    assert "big" not in message


@pytest.mark.parametrize(
    ("classes", "amounts"),
    [
        (("nvidia.hdra.io",), {"memory": "16Gi", "cores": "0"}),  # positive and zero amounts
        (("nvidia.hdra.io",), {"memory": "-0"}),  # minus zero is zero
        (("nvidia.hdra.io",), {"memory": "lots"}),  # not a quantity: the API server answers that
        (("gpu.nvidia.com",), {"memory": "-1Gi"}),  # a foreign driver's class is not hdra's to judge
    ],
)
def test_capacity_requests_that_are_not_negative_or_not_ours_are_allowed(
    classes: tuple[str, ...], amounts: dict[str, Any]
) -> None:
    handler = AdmissionHandler(kube=None)
    devices = _with_capacity(_devices([], classes=classes), amounts, "v1")
    assert _validate(handler, _claim(devices), "ResourceClaim")["allowed"] is True


def test_driver_of_class_names() -> None:
    assert driver_of_class("nvidia.hdra.io") == "nvidia.hdra.io"
    assert driver_of_class("whole.nvidia.hdra.io") == "nvidia.hdra.io"
    assert driver_of_class("gpu.nvidia.com") is None
    assert driver_of_class("xnvidia.hdra.io") is None


# ---- the pod rule, against the dev cluster ------------------------------------------------------


@pytest.fixture
def claims(fast_kube: KubeClient) -> None:
    """ResourceClaims and templates of nvidia.hdra.io, hygon.hdra.io and a foreign driver."""
    api = ResourceV1Api(fast_kube.api_client)
    both = _devices([], classes=("nvidia.hdra.io", "hygon.hdra.io"))
    for name, devices in {
        "gpu-a": _devices([]),
        "gpu-b": _devices([], classes=("whole.nvidia.hdra.io",)),
        "dcu-a": _devices([], classes=("hygon.hdra.io",)),
        "foreign": _devices([], classes=("gpu.nvidia.com",)),
        "mixed": both,
    }.items():
        del devices["config"]
        api.create_namespaced_resource_claim("default", _claim(devices, name=name))  # type: ignore[arg-type]
    template = _devices([])
    del template["config"]
    api.create_namespaced_resource_claim_template(
        "default",
        _template(template, name="gpu-template"),  # type: ignore[arg-type]
    )


def _pod(*containers: list[dict[str, str]], entries: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "worker", "namespace": "default"},
        "spec": {
            "resourceClaims": [{"name": name, **source} for name, source in entries.items()],
            "containers": [
                {"name": f"c{i}", "image": "busybox", "resources": {"claims": refs}}
                for i, refs in enumerate(containers)
            ],
        },
    }


ENTRIES = {
    "a": {"resourceClaimName": "gpu-a"},
    "b": {"resourceClaimName": "gpu-b"},
    "a-again": {"resourceClaimName": "gpu-a"},
    "t1": {"resourceClaimTemplateName": "gpu-template"},
    "t2": {"resourceClaimTemplateName": "gpu-template"},
    "dcu": {"resourceClaimName": "dcu-a"},
    "foreign": {"resourceClaimName": "foreign"},
    "mixed": {"resourceClaimName": "mixed"},
    "missing": {"resourceClaimName": "not-created-yet"},
}


@pytest.mark.usefixtures("claims")
@pytest.mark.parametrize(
    ("refs", "culprits"),
    [
        ([[{"name": "a"}, {"name": "b"}]], ['"a" (ResourceClaim gpu-a)', '"b" (ResourceClaim gpu-b)']),
        (
            [[{"name": "t1"}, {"name": "t2"}]],
            ['"t1" (ResourceClaimTemplate gpu-template)', '"t2" (ResourceClaimTemplate gpu-template)'],
        ),
        (
            [[{"name": "a"}, {"name": "mixed"}]],
            ['"a" (ResourceClaim gpu-a)', '"mixed" (ResourceClaim mixed)'],
        ),
    ],
    ids=["two-claims", "one-template-twice", "claim-and-mixed-claim"],
)
def test_two_claims_of_one_driver_in_a_container_are_denied(
    fast_kube: KubeClient, refs: list[list[dict[str, str]]], culprits: list[str]
) -> None:
    response = _validate(AdmissionHandler(fast_kube), _pod(*refs, entries=ENTRIES), "Pod")
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert message.startswith(
        'pod default/worker container "c0" would get nvidia.hdra.io limits from 2 claims'
    )
    for culprit in culprits:
        assert culprit in message
    assert "CUDA_DEVICE_MEMORY_LIMIT_<i>" in message


@pytest.mark.usefixtures("claims")
@pytest.mark.parametrize(
    "refs",
    [
        [[{"name": "a"}], [{"name": "b"}]],  # one claim per container
        [[{"name": "a"}, {"name": "a-again"}]],  # the same claim twice
        [[{"name": "a"}, {"name": "dcu"}, {"name": "foreign"}]],  # different drivers
        [[{"name": "a"}, {"name": "mixed", "request": "other"}]],  # only mixed's hygon request
        [[{"name": "a"}, {"name": "missing"}]],  # a claim that does not exist yet cannot be judged
    ],
    ids=[
        "separate-containers",
        "same-claim",
        "different-drivers",
        "request-of-other-driver",
        "missing-claim",
    ],
)
def test_pods_without_a_conflict_are_allowed(fast_kube: KubeClient, refs: list[list[dict[str, str]]]) -> None:
    response = _validate(AdmissionHandler(fast_kube), _pod(*refs, entries=ENTRIES), "Pod")
    assert response["allowed"] is True, response


# ---- the PID namespace rule (rules.regions, DESIGN §5), against the dev cluster ---------------------


@pytest.fixture
def unenforced(fast_kube: KubeClient) -> None:
    """A nvidia.hdra.io claim whose AcceleratorConfig turns interception off (enforcement: none)."""
    devices = _devices([_opaque("nvidia.hdra.io", {**GOOD, "enforcement": "none"})])
    body = _claim(devices, name="gpu-off")
    ResourceV1Api(fast_kube.api_client).create_namespaced_resource_claim("default", body)  # type: ignore[arg-type]


def _sharing_pod(
    *users: tuple[str, str], init: tuple[str, str, str | None] | None = None, **spec: Any
) -> dict[str, Any]:
    """Containers ``(name, entry)``; ``init`` = (name, entry, restartPolicy) of one init container."""
    pod = _pod(entries={**ENTRIES, "off": {"resourceClaimName": "gpu-off"}})
    pod["spec"]["containers"] = [
        {"name": name, "image": "busybox", "resources": {"claims": [{"name": entry}]}}
        for name, entry in users
    ]
    if init is not None:
        container = {"name": init[0], "image": "busybox", "resources": {"claims": [{"name": init[1]}]}}
        if init[2] is not None:
            container["restartPolicy"] = init[2]
        pod["spec"]["initContainers"] = [container]
    pod["spec"].update(spec)
    return pod


@pytest.mark.usefixtures("claims", "unenforced")
@pytest.mark.parametrize(
    ("pod", "culprit"),
    [
        (_sharing_pod(("c0", "a"), ("c1", "a")), "containers 'c0' and 'c1' would use ResourceClaim gpu-a"),
        (
            _sharing_pod(("c0", "a"), ("c1", "a-again")),
            "containers 'c0' and 'c1' would use ResourceClaim gpu-a",
        ),
        (
            _sharing_pod(("c0", "t1"), ("c1", "t1")),
            "containers 'c0' and 'c1' would use \"t1\" (ResourceClaimTemplate gpu-template)",
        ),
        (
            _sharing_pod(("c0", "a"), init=("sidecar", "a", "Always")),
            "containers 'sidecar' and 'c0' would use ResourceClaim gpu-a",
        ),
    ],
    ids=["one-entry", "two-entries-one-claim", "template-entry", "sidecar"],
)
def test_two_containers_on_one_intercepted_claim_are_denied(
    fast_kube: KubeClient, pod: dict[str, Any], culprit: str
) -> None:
    response = _validate(AdmissionHandler(fast_kube), pod, "Pod")
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert message.startswith("pod default/worker: ") and culprit in message
    assert "in separate PID namespaces" in message and "shareProcessNamespace: true" in message


@pytest.mark.usefixtures("claims", "unenforced")
@pytest.mark.parametrize(
    "pod",
    [
        _sharing_pod(("c0", "a"), ("c1", "a"), shareProcessNamespace=True),
        _sharing_pod(("c0", "a"), ("c1", "a"), hostPID=True),
        _sharing_pod(("c0", "a"), init=("setup", "a", None)),  # init containers run one after another
        _sharing_pod(("c0", "b"), ("c1", "b")),  # whole.nvidia.hdra.io: no interception
        _sharing_pod(("c0", "off"), ("c1", "off")),  # enforcement: none
        _sharing_pod(("c0", "dcu"), ("c1", "dcu")),  # hygon: no HAMi-core region
        _sharing_pod(("c0", "t1"), ("c1", "t2")),  # a claim each
    ],
    ids=["shared-pid-namespace", "host-pid", "init-then-main", "whole-card-class", "enforcement-none",
         "other-vendor", "claim-each"],
)  # fmt: skip
def test_claims_shared_where_the_limit_still_holds_are_allowed(
    fast_kube: KubeClient, pod: dict[str, Any]
) -> None:
    response = _validate(AdmissionHandler(fast_kube), pod, "Pod")
    assert response["allowed"] is True, response
