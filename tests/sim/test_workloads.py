"""Pods and their claims as the resourceclaim controller makes them (issue 18 item 9).

Upstream reference: k8s.io/kubernetes pkg/controller/resourceclaim/controller.go, ``handleClaim``
(generateName ``<pod>-<entry>-``, proportional cut past 57 characters, the pod-claim-name
annotation, the pod as controlling owner).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dra_driver.cli.main import main
from dra_driver.sim.workloads import (
    POD_CLAIM_ANNOTATION,
    claim_from_template,
    claims_for_pod,
    expand_pods,
    generated_name_base,
)
from tests.sim.builders import mock_slices

TEMPLATE: dict[str, Any] = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceClaimTemplate",
    "metadata": {"name": "share", "namespace": "team"},
    "spec": {
        "metadata": {"labels": {"app": "x"}, "annotations": {"note": "kept"}},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "mock.hdra.io"}}]}},
    },
}


def _pod(name: str, *entries: dict[str, str], namespace: str = "team") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "resourceClaims": list(entries)},
    }


def test_generated_claim_is_what_the_controller_creates() -> None:
    (pod,) = expand_pods([_pod("web", {"name": "gpu", "resourceClaimTemplateName": "share"})])
    claim = claim_from_template(pod, "gpu", TEMPLATE)
    meta = claim["metadata"]
    assert meta["generateName"] == "web-gpu-"
    assert meta["name"].startswith("web-gpu-")
    suffix = meta["name"].removeprefix("web-gpu-")
    assert len(suffix) == 5
    assert set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert meta["namespace"] == "team"
    assert meta["annotations"] == {"note": "kept", POD_CLAIM_ANNOTATION: "gpu"}
    assert meta["labels"] == {"app": "x"}
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web",
        "uid": pod["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert claim["spec"] == TEMPLATE["spec"]["spec"]
    assert claim_from_template(pod, "gpu", TEMPLATE) == claim  # reproducible


def test_long_names_are_cut_in_proportion_like_upstream() -> None:
    pod, entry = "p" * 50, "e" * 20
    base = generated_name_base(pod, entry)
    # upstream: pod[:len(pod)*57//72] + "-" + entry[:len(entry)*57//72] (no trailing hyphen)
    assert base == "p" * 39 + "-" + "e" * 15
    assert generated_name_base("web", "gpu") == "web-gpu-"


def test_workloads_become_pods_and_missing_references_are_named() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "team"},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": _pod("x")["spec"]},
        },
    }
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": _pod("x")["spec"]}}}
    pods = expand_pods([deployment, job])
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods] == [
        ("team", "api-0"),
        ("team", "api-1"),
        ("default", "j-0"),
    ]
    assert pods[0]["metadata"]["labels"] == {"a": "b"}
    pod = _pod(
        "web",
        {"name": "a", "resourceClaimTemplateName": "share"},
        {"name": "b", "resourceClaimName": "shared"},
        {"name": "c", "resourceClaimTemplateName": "absent"},
    )
    shared = {"metadata": {"name": "shared", "namespace": "team"}, "spec": {}}
    found = claims_for_pod(pod, {"team/share": TEMPLATE}, {"team/shared": shared})
    generated, named = found.claims
    assert generated["metadata"]["generateName"] == "web-a-"
    assert named == shared
    assert found.missing == ["ResourceClaimTemplate team/absent"]
    with pytest.raises(ValueError, match=r"Deployment default/d has no spec.template.spec"):
        expand_pods([{"kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}])


def _simulate(tmp_path: Path, documents: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> Any:
    slices = tmp_path / "slices.yaml"
    slices.write_text(yaml.safe_dump_all(mock_slices("node-a", "a100x4")))
    claims = tmp_path / "claims.yaml"
    claims.write_text(yaml.safe_dump_all(documents))
    assert main(["simulate", "--slices", str(slices), "--claims", str(claims), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_simulate_places_template_pods_and_names_what_it_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {**TEMPLATE, "metadata": {"name": "share", "namespace": "default"}}
    documents = [
        template,
        _pod("web", {"name": "gpu", "resourceClaimTemplateName": "share"}, namespace="default"),
        _pod("lost", {"name": "gpu", "resourceClaimTemplateName": "nowhere"}, namespace="default"),
        _pod("plain", namespace="default"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
    ]
    report = _simulate(tmp_path, documents, capsys)
    (placed,) = report["placed"]
    assert placed["pod"] == "default/web"
    assert placed["claims"][0]["claim"].startswith("default/web-gpu-")
    (pending,) = report["pending"]
    assert pending["pod"] == "default/lost"
    assert pending["reasons"] == ["ResourceClaimTemplate default/nowhere not found in the given files"]
    assert "ignored (not a kind the simulator uses): Service/web, ConfigMap/cfg" in report["notes"]
    assert "pods without resource claims (nothing to place): default/plain" in report["notes"]
    (classes,) = [note for note in report["notes"] if note.startswith("no DeviceClasses given")]
    assert "mock.hdra.io" in classes and "mock .hdra.io" not in classes  # issue 18 item 19


def test_simulate_with_nothing_to_place_says_what_it_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slices = tmp_path / "slices.yaml"
    slices.write_text(yaml.safe_dump_all(mock_slices("node-a", "a100x4")))
    claims = tmp_path / "claims.yaml"
    claims.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))
    assert main(["simulate", "--slices", str(slices), "--claims", str(claims)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "hdra: nothing to place: --claims gave no pending ResourceClaims and no pods with resource claims"
    )
