"""``hdra webhook`` registered with the real kube-apiserver (issue 12, "Webhook").

The Mutating and ValidatingWebhookConfigurations are the chart's own (``helm template`` of
charts/hdra with default values: same webhooks, rules, selectors, failure policies), with the
Service client config replaced by a ``url`` on loopback and the ``caBundle`` of the cluster CA
that signed the webhook's serving certificate. Through the real admission chain:

* a HAMi-style pod (``nvidia.com/gpu``, ``gpumem``, ``gpucores``) created through the API comes out
  converted; the real resourceclaim controller creates its claim from the webhook's template, the
  real scheduler allocates it, the node plugin prepares it with the HAMi limits;
* a ResourceClaim whose AcceleratorConfig has a bad field is denied by the real API server with
  the webhook's message naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.realcluster.kubelet import PodKubelet
from tests.realcluster.support import TIMEOUT_S, apply, kubectl_apply, plugin_node, registered_webhook
from tests.support.realcluster import RealScope

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

DRIVER = "nvidia.hdra.io"


@pytest.fixture
def webhook(real_scope: RealScope, tmp_path: Path) -> Iterator[int]:
    with registered_webhook(real_scope, tmp_path) as port:
        yield port


def test_a_hami_pod_is_converted_placed_and_prepared_with_its_limits(
    real_scope: RealScope, webhook: int, tmp_path: Path
) -> None:
    with (
        plugin_node(real_scope, tmp_path, tmp_path / "cdi", DRIVER) as node,
        PodKubelet(real_scope.client, node.name, node.fake) as kubelet,
    ):
        limits = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000", "nvidia.com/gpucores": "30"}
        apply(
            real_scope,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "hami"},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node.name},
                    "containers": [{"name": "main", "image": "busybox", "resources": {"limits": limits}}],
                },
            },
        )
        pod = real_scope.client.pods.get(real_scope.namespace, "hami")
        assert pod.spec is not None and pod.metadata is not None and pod.metadata.uid
        container = pod.spec.containers[0]
        assert not set(limits) & set((container.resources.limits or {}) if container.resources else {})
        (entry,) = pod.spec.resource_claims or []
        assert entry.resource_claim_template_name, "the webhook must point the pod at its claim template"
        real_scope.client.resource_claim_templates.get(
            real_scope.namespace, entry.resource_claim_template_name
        )

        record = kubelet.wait(
            pod.metadata.uid, lambda r: bool(r.prepared) or bool(r.error), TIMEOUT_S, "prepared"
        )
        assert not record.error, record.error
        (ref,) = record.claims.values()
        specs = [p for p in node.cdi_dir.glob("*.json") if ref.uid in p.name]
        assert len(specs) == 1
        text = specs[0].read_text()
        assert "CUDA_DEVICE_MEMORY_LIMIT_0=3000m" in text
        assert "CUDA_DEVICE_SM_LIMIT_0=30" in text


def test_a_bad_accelerator_config_is_denied_by_the_real_apiserver(
    real_scope: RealScope, webhook: int
) -> None:
    parameters = {"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "corePolicy": "sometimes"}
    claim = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "bad-config"},
        "spec": {
            "devices": {
                "requests": [{"name": "gpu", "exactly": {"deviceClassName": DRIVER}}],
                "config": [{"requests": ["gpu"], "opaque": {"driver": DRIVER, "parameters": parameters}}],
            }
        },
    }
    done = kubectl_apply(real_scope.cluster, real_scope.namespace, claim)
    assert done.returncode != 0, "the claim must be denied"
    assert 'admission webhook "validate.resource.hdra.io" denied the request' in done.stderr, done.stderr
    assert "corePolicy" in done.stderr, done.stderr
    assert not real_scope.client.resource_claims.list(real_scope.namespace).items
