"""The mutating webhook against the dev cluster: templates created, slices read, skips, idempotence."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
from kubernetes.client import CoreV1Api

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube import KubeClient
from dra_driver.kube.models import Namespace, ObjectMeta
from dra_driver.parameters import Priority, decode_config
from dra_driver.webhook import IGNORE_LABEL, AdmissionHandler, apply_patch
from tests.webhook.support import decoded_patch, pod, request_of, review


def _admit(handler: AdmissionHandler, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
    status, answer = handler.handle("/mutate", json.dumps(review(obj, **options)).encode())
    assert status == 200
    return answer


def _templates(kube: KubeClient, namespace: str = "default") -> dict[str, dict[str, Any]]:
    items = kube.resource_claim_templates.list(namespace).items
    return {t.metadata.name: t.to_json() for t in items if t.metadata and t.metadata.name}


def test_percentage_becomes_first_available_over_the_cluster_card_sizes(
    fast_kube: KubeClient, published: list[AcceleratorDevice]
) -> None:
    handler = AdmissionHandler(fast_kube)
    original = pod({"nvidia.com/gpu": "2", "nvidia.com/gpumem-percentage": "50", "nvidia.com/gpucores": "30"})
    answer = _admit(handler, original)
    assert answer["response"]["allowed"] is True, answer
    converted = apply_patch(original, decoded_patch(answer))
    (entry,) = converted["spec"]["resourceClaims"]

    stored = _templates(fast_kube)[entry["resourceClaimTemplateName"]]
    request = request_of(stored)
    sizes = sorted({card.memory_bytes for card in published})
    assert [s // 2**30 for s in sizes] == [32, 40, 141]
    assert [sub["name"] for sub in request["firstAvailable"]] == ["mem-32gi", "mem-40gi", "mem-141gi"]
    # As stored: the API server (and the dev cluster) re-spell quantities canonically (16384Mi → 16Gi).
    assert [sub["capacity"]["requests"] for sub in request["firstAvailable"]] == [
        {"memory": "16Gi", "cores": "30"},
        {"memory": "20Gi", "cores": "30"},
        {"memory": "72192Mi", "cores": "30"},
    ]
    assert all(sub["count"] == 2 for sub in request["firstAvailable"])
    assert stored["spec"]["spec"]["devices"]["constraints"] == [
        {"requests": ["gpu"], "distinctAttribute": "nvidia.hdra.io/uuid"}
    ]
    stored.pop("status", None)
    kubernetes_validate.validate(stored, "1.36.0", strict=True)

    # The patched pod is a valid pod the API server accepts.
    CoreV1Api(fast_kube.api_client).create_namespaced_pod("default", converted)


def test_type_selection_narrows_the_sizes(fast_kube: KubeClient, published: list[AcceleratorDevice]) -> None:
    handler = AdmissionHandler(fast_kube)
    original = pod(
        {"nvidia.com/gpumem-percentage": "10"}, annotations={"nvidia.com/nouse-gputype": "v100,h200"}
    )
    converted = apply_patch(original, decoded_patch(_admit(handler, original)))
    stored = _templates(fast_kube)[converted["spec"]["resourceClaims"][0]["resourceClaimTemplateName"]]
    assert [sub["name"] for sub in request_of(stored)["firstAvailable"]] == ["mem-40gi"]


def test_same_pod_twice_shares_one_template_and_readmission_changes_nothing(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    limits = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000", "nvidia.com/priority": "1"}
    first = _admit(handler, pod(limits, name="replica-1"))
    second = _admit(handler, pod(limits, name="replica-2"))
    assert decoded_patch(first) == decoded_patch(second)
    templates = _templates(fast_kube)
    assert len(templates) == 1
    (template,) = templates.values()
    config = template["spec"]["spec"]["devices"]["config"][0]["opaque"]
    assert decode_config(config["parameters"], driver=config["driver"]).priority is Priority.LOW

    converted = apply_patch(pod(limits, name="replica-1"), decoded_patch(first))
    again = _admit(handler, converted)
    assert again["response"]["allowed"] is True
    assert decoded_patch(again) == []
    assert len(_templates(fast_kube)) == 1


def test_ignore_label_on_pod_and_on_namespace(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    limits = {"nvidia.com/gpu": "1"}
    answer = _admit(handler, pod(limits, labels={"hdra.io/webhook": "ignore"}))
    assert answer["response"] == {"uid": answer["response"]["uid"], "allowed": True}

    fast_kube.namespaces.create(
        Namespace(metadata=ObjectMeta(name="legacy", labels={IGNORE_LABEL: "ignore"}))
    )
    fast_kube.namespaces.create(
        Namespace(metadata=ObjectMeta(name="modern", labels={IGNORE_LABEL: "convert"}))
    )
    answer = _admit(handler, pod(limits), namespace="legacy")
    assert decoded_patch(answer) == []
    assert _templates(fast_kube, "legacy") == {}

    answer = _admit(handler, pod(limits), namespace="modern")
    assert decoded_patch(answer) != []
    assert len(_templates(fast_kube, "modern")) == 1


def test_dry_run_creates_nothing(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    answer = _admit(handler, pod({"nvidia.com/gpu": "1"}), dry_run=True)
    assert decoded_patch(answer) != []
    assert _templates(fast_kube) == {}


def test_percentage_without_slices_is_denied(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    answer = _admit(handler, pod({"nvidia.com/gpumem-percentage": "50"}))
    response = answer["response"]
    assert response["allowed"] is False
    assert "no ResourceSlice of driver nvidia.hdra.io" in response["status"]["message"]
    assert _templates(fast_kube) == {}


def test_bad_input_is_denied_through_the_handler(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    answer = _admit(handler, pod({"nvidia.com/gpucores": "120"}))
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 400
    assert (
        'pod default/trainer container "main": nvidia.com/gpucores is 120'
        in answer["response"]["status"]["message"]
    )


def test_other_kinds_and_operations_pass_untouched(fast_kube: KubeClient) -> None:
    handler = AdmissionHandler(fast_kube)
    update = _admit(handler, pod({"nvidia.com/gpu": "1"}), operation="UPDATE")
    assert decoded_patch(update) == []
    claim = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "c"},
        "spec": {},
    }
    other = _admit(handler, claim, kind="ResourceClaim", group="resource.k8s.io")
    assert other["response"]["allowed"] is True
    assert decoded_patch(other) == []
