"""RBAC audit: every API verb each component's code uses, compared with what the chart grants it.

The verbs are found by reading the code (``ast``), not by running it: every call through a
``KubeClient`` resource accessor (``client.resource_slices.list(...)``), the ``watch()`` helper,
``record_event`` and the few direct official-client calls, in all modules a component's command
imports (grimp's import graph, the one import-linter uses). The test fails on a verb granted and
never used, and on a verb used and not granted, naming them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
Permission = tuple[str, str, str]  # (apiGroup, resource, verb)

ACCESSORS: dict[str, tuple[str, str]] = {
    "resource_slices": ("resource.k8s.io", "resourceslices"),
    "resource_claims": ("resource.k8s.io", "resourceclaims"),
    "resource_claim_templates": ("resource.k8s.io", "resourceclaimtemplates"),
    "device_classes": ("resource.k8s.io", "deviceclasses"),
    "nodes": ("", "nodes"),
    "namespaces": ("", "namespaces"),
    "events": ("", "events"),
    "pods": ("", "pods"),
}
# KubeClient resource methods → (verbs, on the status subresource?)
METHODS: dict[str, tuple[tuple[str, ...], bool]] = {
    "get": (("get",), False),
    "get_json": (("get",), False),
    "list": (("list",), False),
    "create": (("create",), False),
    "update": (("update",), False),
    "delete": (("delete",), False),
    "delete_collection": (("deletecollection",), False),
    "modify": (("get", "update"), False),
    "update_status": (("update",), True),
}
# Direct official-client calls (where KubeClient has no accessor).
OFFICIAL: dict[str, Permission] = {
    "read_namespace": ("", "namespaces", "get"),
    "list_namespace": ("", "namespaces", "list"),
}
COMPONENTS = {
    "kubelet-plugin": "dra_driver.cli.kubelet_plugin",
    "webhook": "dra_driver.cli.webhook",
    "controller": "dra_driver.cli.controller",
}
# The adapter itself and the dev cluster (a fake API server) are not callers.
NOT_CALLERS = ("dra_driver.kube", "dra_driver.devcluster")


def component_modules(root: str) -> set[str]:
    graph = grimp.build_graph("dra_driver")
    modules = {root} | graph.find_upstream_modules(root)
    return {m for m in modules if not m.startswith(NOT_CALLERS)}


def module_path(module: str) -> Path:
    base = ROOT / Path(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def calls(tree: ast.AST) -> Iterator[Permission]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute):
            accessor = func.value.attr
            if accessor in ACCESSORS and func.attr in METHODS:
                group, resource = ACCESSORS[accessor]
                verbs, status = METHODS[func.attr]
                for verb in verbs:
                    yield group, f"{resource}/status" if status else resource, verb
        if isinstance(func, ast.Attribute) and func.attr == "record_event":
            yield "", "events", "create"
        if isinstance(func, ast.Attribute) and func.attr in OFFICIAL:
            yield OFFICIAL[func.attr]
        if isinstance(func, ast.Name) and func.id == "watch" and node.args:
            target = node.args[0]
            if isinstance(target, ast.Attribute) and target.attr in ACCESSORS:
                group, resource = ACCESSORS[target.attr]
                yield group, resource, "list"
                yield group, resource, "watch"


def used(component: str) -> set[Permission]:
    found: set[Permission] = set()
    for module in component_modules(COMPONENTS[component]):
        path = module_path(module)
        if path.exists():
            found |= set(calls(ast.parse(path.read_text(), str(path))))
    return found


def granted() -> dict[str, set[Permission]]:
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not installed (.ci/run installs it from the npm package)")
    rendered = subprocess.run(
        [helm, "template", "t", str(ROOT / "charts" / "hdra")], capture_output=True, text=True, check=True
    ).stdout
    grants: dict[str, set[Permission]] = {}
    for doc in yaml.safe_load_all(rendered):
        if not doc or doc.get("kind") != "ClusterRole":
            continue
        component = doc["metadata"]["name"].removeprefix("t-hdra-")
        rules = grants.setdefault(component, set())
        for rule in doc.get("rules") or []:
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or []:
                    rules.update((group, resource, verb) for verb in rule.get("verbs") or [])
    return grants


def test_the_scan_finds_known_calls() -> None:
    """Guards the scanner itself: a few calls that certainly exist must be found."""
    plugin = used("kubelet-plugin")
    assert ("resource.k8s.io", "resourceslices", "create") in plugin
    assert ("resource.k8s.io", "resourceslices", "watch") in plugin
    assert ("", "events", "create") in plugin
    assert ("", "namespaces", "get") in used("webhook")


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_chart_grants_exactly_what_the_code_uses(component: str) -> None:
    grants = granted()
    assert component in grants, f"the chart renders no ClusterRole for {component}: {sorted(grants)}"
    code = used(component)
    unused = sorted(grants[component] - code)
    missing = sorted(code - grants[component])
    assert not unused and not missing, (
        f"{component}: granted but never used: {unused}; used but not granted: {missing}"
    )
