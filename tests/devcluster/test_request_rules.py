"""Device request rules of upstream resource validation (issue 18 item 14).

Reference: k8s.io/kubernetes v1.36 pkg/apis/resource/validation/validation.go
(``validateDeviceAllocationMode``, ``validateCELExpression``) and v1 ``SetDefaults_ExactDeviceRequest``
(count 0 is defaulted to 1). Capacity requests have no validation there ("has no validation" in
pkg/apis/resource/v1/zz_generated.validations.go), so a negative one is stored, as a real 1.36
server stores it; prepare refuses it (tests/prepare/test_preparer.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import claim_body, class_body, raw

CLAIMS = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"
TEMPLATES = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaimtemplates"
CLASSES = "/apis/resource.k8s.io/v1/deviceclasses"
UNPARSABLE = "device.driver =="


def _claim(**exactly: Any) -> dict[str, Any]:
    body = claim_body("c")
    body["spec"]["devices"]["requests"][0]["exactly"].update(exactly)
    return body


@pytest.mark.parametrize(
    ("exactly", "field", "message"),
    [
        (
            {"count": -5},
            "spec.devices.requests[0].exactly.count",
            "Invalid value: -5: must be greater than zero",
        ),
        (
            {"allocationMode": "All", "count": 2},
            "spec.devices.requests[0].exactly.count",
            "Invalid value: 2: must not be specified when allocationMode is 'All'",
        ),
        (
            {"selectors": [{"cel": {"expression": UNPARSABLE}}]},
            "spec.devices.requests[0].exactly.selectors[0].cel.expression",
            f'Invalid value: "{UNPARSABLE}": compilation failed: ERROR: <input>:1:17: Syntax error:',
        ),
        (
            {"selectors": [{"cel": {"expression": "true || " * 1400 + "true"}}]},
            "spec.devices.requests[0].exactly.selectors[0].cel.expression",
            "Too long: may not be more than 10240 bytes",
        ),
    ],
)
def test_claim_requests_are_refused_as_upstream_does(
    devcluster: DevCluster, exactly: dict[str, Any], field: str, message: str
) -> None:
    response = raw(devcluster.url, "POST", CLAIMS, _claim(**exactly))
    assert response.status == 422, response.body
    status = response.json()
    assert status["message"].startswith(f'ResourceClaim.resource.k8s.io "c" is invalid: {field}: {message}')
    (cause,) = status["details"]["causes"]
    assert cause["field"] == field


@pytest.mark.parametrize(
    "exactly",
    [
        {"count": 0},
        {"count": 3},
        {"allocationMode": "All"},
        {"capacity": {"requests": {"memory": "-3000Mi"}}},
    ],
)
def test_what_upstream_accepts_is_stored(devcluster: DevCluster, exactly: dict[str, Any]) -> None:
    response = raw(devcluster.url, "POST", CLAIMS, _claim(**exactly))
    assert response.status == 201, response.body


def test_templates_first_available_and_classes_are_checked_too(devcluster: DevCluster) -> None:
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "t"},
        "spec": {
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": "gpu",
                            "firstAvailable": [
                                {"name": "big", "deviceClassName": "mock.hdra.io", "count": -1},
                            ],
                        }
                    ]
                }
            }
        },
    }
    response = raw(devcluster.url, "POST", TEMPLATES, template)
    assert response.status == 422
    assert (
        "spec.spec.devices.requests[0].firstAvailable[0].count: Invalid value: -1"
        in response.json()["message"]
    )
    device_class = class_body("broken")
    device_class["spec"]["selectors"][0]["cel"]["expression"] = UNPARSABLE
    response = raw(devcluster.url, "POST", CLASSES, device_class)
    assert response.status == 422
    assert "spec.selectors[0].cel.expression: Invalid value:" in response.json()["message"]
