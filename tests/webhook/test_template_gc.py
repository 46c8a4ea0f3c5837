"""Garbage collection of generated ResourceClaimTemplates (issue 18 item 16): a template was created for
every admitted pod, also for pods never stored, and never removed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dra_driver.kube import KubeClient
from dra_driver.kube.models import Pod, ResourceClaimTemplate
from dra_driver.webhook.cluster import create_template
from dra_driver.webhook.template import claim_template
from dra_driver.webhook.template_gc import LAST_USED, collect

GRACE = 600.0
SPEC: dict[str, Any] = {
    "devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "nvidia.hdra.io"}}]}
}


def _generated(kube: KubeClient, container: str) -> str:
    """A template as the webhook generates it for ``container`` (named hdra-<container>-<hash>)."""
    template = claim_template(container, "default", SPEC)
    assert create_template(kube, template) is True
    return str(template["metadata"]["name"])


def _pod(kube: KubeClient, name: str, template: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": {"claims": [{"name": "gpu"}]}}],
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": template}],
        },
    }
    kube.pods.create("default", Pod.model_validate(pod))


def _names(kube: KubeClient) -> set[str]:
    return {
        t.metadata.name
        for t in kube.resource_claim_templates.list("default").items
        if t.metadata and t.metadata.name
    }


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_only_unused_generated_templates_past_their_grace_are_deleted(kube: KubeClient) -> None:
    orphan = _generated(kube, "orphan")
    named = _generated(kube, "named")
    _pod(kube, "runs", named)
    foreign = ResourceClaimTemplate.model_validate(
        {"metadata": {"name": "users-own", "namespace": "default"}, "spec": {"spec": SPEC}}
    )
    kube.resource_claim_templates.create("default", foreign)
    assert collect(kube, now=later(GRACE / 2), grace_s=GRACE) == []  # still within its grace
    assert collect(kube, now=later(GRACE + 5), grace_s=GRACE) == [f"default/{orphan}"]
    assert _names(kube) == {named, "users-own"}


def test_reuse_renews_the_grace_and_a_collected_template_is_created_again(kube: KubeClient) -> None:
    name = _generated(kube, "shared")
    template = kube.resource_claim_templates.get("default", name)
    assert template.metadata is not None and LAST_USED not in (template.metadata.annotations or {})
    body = claim_template("shared", "default", SPEC)
    assert body["metadata"]["name"] == name
    assert create_template(kube, body) is False  # reused: marked as handed out now
    touched = kube.resource_claim_templates.get("default", name)
    assert touched.metadata is not None and LAST_USED in (touched.metadata.annotations or {})
    assert collect(kube, now=later(GRACE + 5), grace_s=GRACE) == [f"default/{name}"]
    assert create_template(kube, body) is True  # gone: the next admission creates it again
    assert name in _names(kube)


def test_a_template_handed_out_after_the_list_is_kept(
    kube: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _generated(kube, "racing")
    body = claim_template("racing", "default", SPEC)
    listing: Callable[..., Any] = kube.resource_claim_templates.list

    def list_then_admit(*args: Any, **kwargs: Any) -> Any:
        listed = listing(*args, **kwargs)
        assert create_template(kube, body) is False  # an admission reuses it between list and delete
        return listed

    monkeypatch.setattr(kube.resource_claim_templates, "list", list_then_admit)
    assert collect(kube, now=later(GRACE + 5), grace_s=GRACE) == []  # the delete's precondition failed
    assert name in _names(kube)
