"""The Helm chart against the real kube-apiserver (issue 12, "Chart").

* Every object ``helm template`` renders for each values set of tests/chart is accepted by a
  server-side apply (``--dry-run=server``: the real validation and admission run, nothing is
  stored). cert-manager's Issuer and Certificate are left out: their CRDs are not installed.
* The chart's ServiceAccounts, RBAC and ValidatingAdmissionPolicy are then stored for real. The
  node plugin's ServiceAccount, with a TokenRequest token bound to a pod on node A (so the token
  carries ``authentication.kubernetes.io/node-name``), may write node A's slices and none of node
  B's (create, update and delete are denied by the policy, naming both nodes); a token bound to no
  pod may write no slice at all.
* The chart's RBAC is enough for each component to do its work with its own ServiceAccount's
  token: the real node plugin publishes and prepares (node-bound token), the real webhook converts
  a HAMi-style pod, the real controller answers the scheduler's prioritize call; and each is denied
  what it was not given (the real authorizer, not the AST audit of tests/security).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client import (
    AuthenticationV1TokenRequest,
    CoreV1Api,
    V1BoundObjectReference,
    V1Pod,
    V1ResourceSlice,
    V1SelfSubjectAccessReview,
    V1TokenRequestSpec,
)
from kubernetes.client.exceptions import ApiException

from dra_driver.kube import AlreadyExists
from dra_driver.kube.models import Namespace, ObjectMeta
from dra_driver.realcluster import RealCluster
from dra_driver.realcluster.kubelet import PodKubelet
from dra_driver.realcluster.processes import free_port, port_open
from tests.realcluster.support import (
    CHART_NAMESPACE,
    TIMEOUT_S,
    apply,
    plugin_node,
    registered_webhook,
    render_chart,
)
from tests.support.processes import HDRA, Process, wait_for
from tests.support.realcluster import RealScope

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

VENDORS = ("nvidia", "amd", "ascend", "cambricon", "hygon", "mock")
VALUE_SETS = {
    "default": [],
    "all-vendors": [arg for v in VENDORS for arg in ("--set", f"vendors.{v}.enabled=true")],
    "cert-manager": ["--set", "webhook.certManager.enabled=true"],
}
CRD_KINDS = {"Issuer", "Certificate"}
STORED_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
PLUGIN_SA, WEBHOOK_SA, CONTROLLER_SA = "hdra-kubelet-plugin", "hdra-webhook", "hdra-controller"
DRIVER = "nvidia.hdra.io"


def _kubectl(cluster: RealCluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def _ensure_namespace(cluster: RealCluster) -> None:
    with contextlib.suppress(AlreadyExists):
        cluster.client.namespaces.create(Namespace(metadata=ObjectMeta(name=CHART_NAMESPACE)))


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_rendered_object_is_accepted_by_a_server_side_apply(
    real_cluster: RealCluster, values: str
) -> None:
    _ensure_namespace(real_cluster)
    objects = [doc for doc in render_chart(*VALUE_SETS[values]) if doc["kind"] not in CRD_KINDS]
    stream = yaml.safe_dump_all(objects)
    done = _kubectl(
        real_cluster,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=helm",
        "-n",
        CHART_NAMESPACE,
        "-f",
        "-",
        stdin=stream,
    )
    assert done.returncode == 0, done.stderr
    accepted = [line for line in done.stdout.splitlines() if "serverside-applied (server dry run)" in line]
    assert len(accepted) == len(objects), done.stdout


@pytest.fixture(scope="module")
def chart_rbac(real_cluster: RealCluster) -> Iterator[list[dict[str, Any]]]:
    """The chart's ServiceAccounts, RBAC and slice policy, stored for real (default values)."""
    _ensure_namespace(real_cluster)
    stored = [doc for doc in render_chart() if doc["kind"] in STORED_KINDS]
    stream = yaml.safe_dump_all(stored)
    done = _kubectl(real_cluster, "apply", "--server-side", "-n", CHART_NAMESPACE, "-f", "-", stdin=stream)
    assert done.returncode == 0, done.stderr
    # The API server loads a new policy asynchronously: wait until it denies what it must deny (a
    # dry-run create by the plugin's account with a token bound to no pod) before any test relies on it.
    probe = real_cluster.token_kubeconfig("plugin-probe", _bound_token(real_cluster, PLUGIN_SA, None))
    with config.new_client_from_config(str(probe)) as api:  # type: ignore[no-untyped-call]
        resource = client.ResourceV1Api(api)

        def enforced() -> bool:
            try:
                resource.create_resource_slice(_slice("probe", "policy-probe"), dry_run="All")
            except ApiException as exc:
                return exc.status == 422 and "no node association found" in str(exc.body)
            return False

        assert wait_for(enforced, TIMEOUT_S, 0.2), "the chart's slice policy was never enforced"
    yield stored
    _kubectl(real_cluster, "delete", "--ignore-not-found", "-n", CHART_NAMESPACE, "-f", "-", stdin=stream)


def _bound_token(cluster: RealCluster, account: str, node: str | None) -> str:
    """A TokenRequest token of ``account``, bound to a pod of that account on ``node`` if given."""
    core = CoreV1Api(cluster.client.api_client)
    bound: V1BoundObjectReference | None = None
    if node is not None:
        spec = {
            "serviceAccountName": account,
            "nodeName": node,
            "containers": [{"name": "c", "image": "busybox"}],
        }
        pod = core.create_namespaced_pod(
            CHART_NAMESPACE, V1Pod.model_validate({"metadata": {"generateName": f"{account}-"}, "spec": spec})
        )
        assert pod.metadata is not None
        bound = V1BoundObjectReference(
            api_version="v1", kind="Pod", name=pod.metadata.name, uid=pod.metadata.uid
        )
    request = AuthenticationV1TokenRequest(
        spec=V1TokenRequestSpec(audiences=[], bound_object_ref=bound, expiration_seconds=3600)
    )
    answer = core.create_namespaced_service_account_token(account, CHART_NAMESPACE, request)
    token = answer.status.token if answer.status else None
    assert token
    return token


def _slice(node: str, name: str) -> V1ResourceSlice:
    """A slice for the official client: these tests speak as other identities through it."""
    return V1ResourceSlice.model_validate(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": name},
            "spec": {
                "driver": DRIVER,
                "nodeName": node,
                "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
                "devices": [{"name": "gpu-0"}],
            },
        }
    )


def _status(call: Any) -> int:
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return 200


def test_the_slice_policy_limits_the_node_plugin_to_its_own_node(
    real_scope: RealScope, chart_rbac: list[dict[str, Any]]
) -> None:
    cluster = real_scope.cluster
    node_a, node_b = real_scope.node("a"), real_scope.node("b")
    resource = client.ResourceV1Api(cluster.client.api_client)
    resource.create_resource_slice(_slice(node_b, f"{node_b}-admin"))  # written by the admin
    path = cluster.token_kubeconfig("plugin-a", _bound_token(cluster, PLUGIN_SA, node_a))
    with config.new_client_from_config(str(path)) as api:  # type: ignore[no-untyped-call]
        plugin = client.ResourceV1Api(api)
        assert _status(lambda: plugin.create_resource_slice(_slice(node_a, f"{node_a}-own"))) == 200
        with pytest.raises(ApiException) as denied:
            plugin.create_resource_slice(_slice(node_b, f"{node_b}-foreign"))
        assert denied.value.status == 422  # a policy's Deny without a reason is "Invalid"
        assert (
            f"the hdra node plugin on node '{node_a}' may not modify ResourceSlices of node '{node_b}'"
            in str(denied.value.body)
        )
        theirs = resource.read_resource_slice(f"{node_b}-admin")  # the plugin may not get slices
        assert theirs.spec is not None and theirs.spec.devices
        theirs.spec.devices[0].name = "gpu-1"
        assert _status(lambda: plugin.replace_resource_slice(f"{node_b}-admin", theirs)) == 422
        assert _status(lambda: plugin.delete_resource_slice(f"{node_b}-admin")) == 422
        assert _status(lambda: plugin.delete_resource_slice(f"{node_a}-own")) == 200
    unbound = cluster.token_kubeconfig("plugin-unbound", _bound_token(cluster, PLUGIN_SA, None))
    with config.new_client_from_config(str(unbound)) as api:  # type: ignore[no-untyped-call]
        with pytest.raises(ApiException) as denied:
            client.ResourceV1Api(api).create_resource_slice(_slice(node_a, f"{node_a}-unbound"))
        assert denied.value.status == 422
        assert "no node association found" in str(denied.value.body)


def _can(cluster: RealCluster, path: Path, verb: str, resource: str, group: str = "") -> bool:
    with config.new_client_from_config(str(path)) as api:  # type: ignore[no-untyped-call]
        attributes = {"verb": verb, "resource": resource, "group": group}
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            V1SelfSubjectAccessReview.model_validate({"spec": {"resourceAttributes": attributes}})
        )
    return review.status is not None and bool(review.status.allowed)


def test_the_chart_rbac_is_enough_for_each_component_with_its_own_account(
    real_scope: RealScope, chart_rbac: list[dict[str, Any]], tmp_path: Path
) -> None:
    cluster = real_scope.cluster
    node = real_scope.node("sa")
    plugin_config = cluster.token_kubeconfig("sa-plugin", _bound_token(cluster, PLUGIN_SA, node))
    webhook_config = cluster.token_kubeconfig("sa-webhook", _bound_token(cluster, WEBHOOK_SA, None))
    controller_config = cluster.token_kubeconfig("sa-controller", _bound_token(cluster, CONTROLLER_SA, None))

    # What none of them was given, the real authorizer refuses.
    assert not _can(cluster, plugin_config, "list", "secrets")
    assert not _can(cluster, plugin_config, "update", "nodes")
    assert not _can(cluster, webhook_config, "create", "resourceslices", "resource.k8s.io")
    assert not _can(cluster, controller_config, "update", "resourceclaims", "resource.k8s.io")

    with (
        plugin_node(
            real_scope, tmp_path / "plugin", tmp_path / "cdi", DRIVER, kubeconfig=plugin_config, name=node
        ) as started,
        PodKubelet(real_scope.client, node, started.fake) as kubelet,
        registered_webhook(real_scope, tmp_path, webhook_config),
    ):
        # The plugin published with its own token (create, list, watch; get node; events).
        slices = real_scope.client.resource_slices.list(field_selector=f"spec.nodeName={node}").items
        assert slices and all(s.spec is not None and s.spec.driver == DRIVER for s in slices)
        # The webhook converts (reads namespaces and slices, creates the template) with its token.
        limits = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "2000", "nvidia.com/gpucores": "20"}
        apply(
            real_scope,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "hami-sa"},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "containers": [{"name": "main", "image": "busybox", "resources": {"limits": limits}}],
                },
            },
        )
        pod = real_scope.client.pods.get(real_scope.namespace, "hami-sa")
        assert pod.spec is not None and pod.spec.resource_claims, "the webhook did not convert the pod"
        assert pod.metadata is not None and pod.metadata.uid
        # The plugin prepares (gets the claim) with its own token.
        record = kubelet.wait(
            pod.metadata.uid, lambda r: bool(r.prepared) or bool(r.error), TIMEOUT_S, "prepared"
        )
        assert not record.error, record.error

        # The controller answers the scheduler (lists slices and claims) with its own token.
        port = free_port()
        controller = Process(
            [
                *HDRA,
                "controller",
                "--kubeconfig",
                str(controller_config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            tmp_path / "controller.log",
        )
        try:
            assert wait_for(lambda: port_open(port), TIMEOUT_S, 0.2), controller.log.read_text()
            pod_json = pod.model_dump(by_alias=True, exclude_none=True, mode="json")
            body = json.dumps({"Pod": pod_json, "NodeNames": [node]}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/prioritize", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                scores = json.loads(answer.read())
            assert [entry["Host"] for entry in scores] == [node]
            assert scores[0]["Score"] >= 0
        finally:
            assert controller.terminate() == 0, controller.log.read_text()
