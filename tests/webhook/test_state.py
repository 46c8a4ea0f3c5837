"""The webhook's watches (``webhook/state.py``): a typical admission after the first makes no API
call; a template deleted behind the webhook's back is created again; an old hand-out mark is
renewed; namespace labels come from the namespace watch; before the first lists the API is read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice
from dra_driver.kube import KubeClient
from dra_driver.kube.models import Namespace, ObjectMeta
from dra_driver.webhook import IGNORE_LABEL, AdmissionHandler, apply_patch
from dra_driver.webhook.state import TemplateState, WatchedState
from dra_driver.webhook.template_gc import LAST_USED
from tests.webhook.support import decoded_patch, pod, review

LIMITS = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000", "nvidia.com/gpucores": "30"}


@pytest.fixture
def state(cluster: DevCluster, fast_kube: KubeClient) -> Iterator[WatchedState]:
    watched = WatchedState(fast_kube).start()
    try:
        assert watched.wait_ready(10.0)
        # Each watch opens its stream (a request of its own) right after its list: wait for all
        # three, so that a test counting requests from here on counts only the admissions'.
        _until(lambda: cluster.stats.watches >= 3)
        yield watched
    finally:
        watched.stop()


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the watch did not deliver the change in time"
        time.sleep(0.01)


def _template_name(handler: AdmissionHandler, namespace: str = "default") -> str:
    status, answer = handler.handle("/mutate", json.dumps(review(pod(LIMITS), namespace=namespace)).encode())
    assert status == 200 and answer["response"]["allowed"], answer
    converted: dict[str, Any] = apply_patch(pod(LIMITS), decoded_patch(answer))
    name: str = converted["spec"]["resourceClaims"][0]["resourceClaimTemplateName"]
    return name


def test_a_typical_admission_after_the_first_makes_no_api_call(
    cluster: DevCluster, fast_kube: KubeClient, published: list[AcceleratorDevice], state: WatchedState
) -> None:
    handler = AdmissionHandler(fast_kube, state)
    name = _template_name(handler)
    _until(lambda: state.template("default", name) is not None)
    cluster.stats.reset()
    assert _template_name(handler) == name
    assert cluster.stats.total == 0


def test_a_template_deleted_behind_the_webhooks_back_is_created_again(
    fast_kube: KubeClient, published: list[AcceleratorDevice], state: WatchedState
) -> None:
    handler = AdmissionHandler(fast_kube, state)
    name = _template_name(handler)
    _until(lambda: state.template("default", name) is not None)
    assert fast_kube.resource_claim_templates.delete("default", name)
    _until(lambda: state.template("default", name) is None)
    assert _template_name(handler) == name
    assert fast_kube.resource_claim_templates.get("default", name).metadata is not None


def test_a_template_the_watch_still_holds_but_that_is_gone_is_created_again(
    fast_kube: KubeClient, published: list[AcceleratorDevice], state: WatchedState
) -> None:
    """With no grace left, every admission renews the mark through the API; a template deleted a
    moment ago (the watch has not said so yet) fails that renewal and is created again."""
    handler = AdmissionHandler(fast_kube, state, template_grace_s=0.0)
    name = _template_name(handler)
    _until(lambda: state.template("default", name) is not None)
    assert _template_name(handler) == name
    stored = fast_kube.resource_claim_templates.get("default", name)
    assert stored.metadata is not None and LAST_USED in (stored.metadata.annotations or {})
    state.stop()  # the watch can no longer tell: its entry stays although the template goes
    assert fast_kube.resource_claim_templates.delete("default", name)
    assert state.template("default", name) is not None
    assert _template_name(handler) == name
    assert fast_kube.resource_claim_templates.get("default", name).metadata is not None


def test_namespace_labels_come_from_the_namespace_watch(
    cluster: DevCluster, fast_kube: KubeClient, state: WatchedState
) -> None:
    fast_kube.namespaces.create(
        Namespace(metadata=ObjectMeta(name="legacy", labels={IGNORE_LABEL: "ignore"}))
    )
    _until(lambda: state.namespace_labels("legacy") is not None)
    handler = AdmissionHandler(fast_kube, state)
    cluster.stats.reset()
    status, answer = handler.handle("/mutate", json.dumps(review(pod(LIMITS), namespace="legacy")).encode())
    assert status == 200 and decoded_patch(answer) == []
    assert cluster.stats.total == 0


def test_before_the_first_lists_the_api_is_asked(
    cluster: DevCluster, fast_kube: KubeClient, published: list[AcceleratorDevice]
) -> None:
    idle = WatchedState(fast_kube)  # never started: knows nothing
    assert idle.template("default", "x") is None and idle.namespace_labels("default") is None
    assert idle.cards("nvidia.hdra.io") is None
    handler = AdmissionHandler(fast_kube, idle)
    cluster.stats.reset()
    name = _template_name(handler)
    assert cluster.stats.total >= 2  # the namespace read and the template create
    assert fast_kube.resource_claim_templates.get("default", name).metadata is not None


def test_the_pod_check_reads_a_generated_template_from_the_watch(
    cluster: DevCluster, fast_kube: KubeClient, published: list[AcceleratorDevice], state: WatchedState
) -> None:
    handler = AdmissionHandler(fast_kube, state)
    status, answer = handler.handle("/mutate", json.dumps(review(pod(LIMITS))).encode())
    assert status == 200
    converted = apply_patch(pod(LIMITS), decoded_patch(answer))
    name = converted["spec"]["resourceClaims"][0]["resourceClaimTemplateName"]
    _until(lambda: (state.template("default", name) or TemplateState(None)).spec is not None)
    cluster.stats.reset()
    status, answer = handler.handle("/validate", json.dumps(review(converted)).encode())
    assert status == 200 and answer["response"]["allowed"] is True, answer
    assert cluster.stats.total == 0
