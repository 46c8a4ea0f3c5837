"""Every example under examples/ is valid for Kubernetes 1.34-1.36 and allocates as its README says.

Strict schema validation covers every YAML document with kubernetes-validate; every AcceleratorConfig
in a claim or template must decode with hdra's own strict decoder; then ``support.place_example``
places the example's pods on the mock cluster its README's ``placement`` block names, and the
outcome must equal the block exactly (node and devices per pod).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from dra_driver.devices import BackendError, make_backend
from dra_driver.parameters import decode_config
from tests.examples.support import EXAMPLES, documents, example_dirs, place_example, promise

VERSIONS = ("1.34.0", "1.35.0", "1.36.0")
FOLDERS = example_dirs()


def _ids(path: Path) -> str:
    return path.name


def test_every_scenario_of_issue_6_has_a_folder() -> None:
    expected = {
        "training-4-cards", "lora-1-card", "inference-1-card", "inference-2-cards-deployment",
        "shared-card-services", "memory-by-size", "memory-by-percentage", "cores-50-percent",
        "card-type-selection", "uuid-selection", "cambricon-memory-cores", "ascend-910b-2000mib",
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
