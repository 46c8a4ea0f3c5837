"""Every example under examples/ is valid for Kubernetes 1.34-1.36 and allocates as its README says.

Strict schema validation covers every YAML document with kubernetes-validate; every AcceleratorConfig
in a claim or template must decode with hdra's own strict decoder; then ``support.place_example``
places the example's pods on the mock cluster its README's ``placement`` block names, and the
outcome must equal the block exactly (node and devices per pod, and the nodes that tie with it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dra_driver.cli.main import main
from dra_driver.devices import BackendError, make_backend
from dra_driver.parameters import decode_config
from tests.examples.support import (
    EXAMPLES,
    device_class,
    documents,
    example_dirs,
    mock_slices,
    place_example,
    promise,
)

VERSIONS = ("1.34.0", "1.35.0", "1.36.0")
FOLDERS = example_dirs()


def _ids(path: Path) -> str:
    return path.name


def test_every_scenario_of_issue_6_has_a_folder() -> None:
    expected = {
        "training-4-cards", "lora-1-card", "inference-1-card", "inference-2-cards-deployment",
        "shared-card-services", "memory-by-size", "memory-by-percentage", "cores-50-percent",
        "card-type-selection", "uuid-selection", "cambricon-memory", "ascend-910b-2000mib",
        "shared-claim", "priority-core-policy", "partitions-mode", "replicas-mode", "hami-style-pods",
    }  # fmt: skip
    assert expected <= {path.name for path in FOLDERS}, sorted(expected - {p.name for p in FOLDERS})


@pytest.mark.parametrize("folder", FOLDERS, ids=_ids)
def test_folder_has_readme_and_yaml(folder: Path) -> None:
    assert (folder / "README.md").is_file(), f"{folder} has no README.md"
    assert list(folder.glob("*.yaml")), f"{folder} has no YAML file"
    assert documents(folder), f"{folder}: the YAML files hold no document"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("folder", FOLDERS, ids=_ids)
def test_yaml_is_strictly_valid(folder: Path, version: str) -> None:
    for doc in documents(folder):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(
                f"{folder.name}: {doc['kind']} {doc['metadata']['name']} invalid for {version}: {err}"
            )


def _opaque_configs(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = doc["spec"]["spec"] if doc["kind"] == "ResourceClaimTemplate" else doc["spec"]
    return [
        (entry["opaque"]["driver"], entry["opaque"]["parameters"])
        for entry in spec.get("devices", {}).get("config", [])
        if "opaque" in entry
    ]


@pytest.mark.parametrize("folder", FOLDERS, ids=_ids)
def test_accelerator_configs_decode(folder: Path) -> None:
    for doc in documents(folder):
        if doc["kind"] in ("ResourceClaim", "ResourceClaimTemplate"):
            for index, (driver, parameters) in enumerate(_opaque_configs(doc)):
                decode_config(
                    parameters, driver=driver, path=f"{folder.name}/{doc['metadata']['name']}[{index}]"
                )


@pytest.mark.parametrize("folder", FOLDERS, ids=_ids)
def test_allocates_as_the_readme_promises(folder: Path) -> None:
    expected = promise(folder)
    for node, profile in expected.nodes:
        try:
            make_backend("mock", node_name=node, profile=profile)
        except BackendError:
            vendor = expected.driver.split(".", 1)[0]
            pytest.skip(f"no {vendor} backend yet (issue 7): mock profile {profile!r} is unknown")
    outcome = place_example(folder, expected)
    details = "\n".join(f"{pod}: {message}" for pod, message in outcome.messages.items())
    assert outcome.pods == expected.pods, f"{folder.name}: placement differs from README\n{details}"
    assert outcome.ties == expected.ties, f"{folder.name}: the nodes that tie differ from the README's"


@pytest.mark.parametrize("folder", FOLDERS, ids=_ids)
def test_hdra_simulate_places_the_folder_as_shipped(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 9: ``hdra simulate --claims <folder>/*.yaml`` expands the folder's templates,
    Pods and Deployments itself and gets the README's placement, like ``place_example``."""
    expected = promise(folder)
    slices = tmp_path / "slices.yaml"
    slices.write_text(yaml.safe_dump_all(mock_slices(expected.nodes, expected.driver, expected.mode)))
    classes = tmp_path / "classes.yaml"
    classes.write_text(yaml.safe_dump(device_class(expected.driver)))
    files = [str(path) for path in sorted(folder.glob("*.yaml"))]
    argv = ["simulate", "--slices", str(slices), "--classes", str(classes), "--claims", *files]
    assert main([*argv, "--policy", "binpack", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    got: dict[str, tuple[str, ...]] = {}
    ties: dict[str, tuple[tuple[str, ...], ...]] = {}
    for entry in report["placed"]:
        devices = [d["device"].rsplit("/", 1)[1] for claim in entry["claims"] for d in claim["devices"]]
        pod = entry["pod"].removeprefix("default/")
        got[pod] = (entry["node"], *devices)
        if entry["ties"]:
            ties[pod] = tuple(
                (tie["node"], *(d["device"].rsplit("/", 1)[1] for c in tie["claims"] for d in c["devices"]))
                for tie in entry["ties"]
            )
    for entry in report["pending"]:
        got[entry["pod"].removeprefix("default/")] = ("pending",)
    assert got == expected.pods, report["pending"]
    assert ties == expected.ties
    assert not [note for note in report["notes"] if note.startswith("ignored")], report["notes"]


def test_priority_example_carries_both_priorities() -> None:
    """The priority example must show a high and a low priority claim on the same card."""
    docs = documents(EXAMPLES / "priority-core-policy")
    priorities = {
        parameters["priority"]
        for doc in docs
        if doc["kind"] == "ResourceClaimTemplate"
        for _, parameters in _opaque_configs(doc)
    }
    assert priorities == {"high", "low"}
