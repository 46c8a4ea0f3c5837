"""``hdra discover`` and ``hdra demo`` as a user runs them (in-process, real parser and output)."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
import yaml

from dra_driver.cli.main import main

MODES_BY_VERSION = {
    # Modes whose fields exist in that release's ResourceSlice schema.
    "1.34": ["exclusive", "replicas", "capacity", "partitions"],
    "1.35": ["exclusive", "replicas", "capacity", "partitions"],
    "1.36": ["exclusive", "replicas", "capacity", "partitions", "auto"],
}


@pytest.mark.parametrize(
    ("version", "mode"), [(v, m) for v, modes in MODES_BY_VERSION.items() for m in modes]
)
@pytest.mark.parametrize("profile", ["a100x4", "mixed"])
def test_discover_prints_slices_that_pass_strict_validation(
    version: str, mode: str, profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "discover",
            "--backend",
            "mock",
            "--profile",
            profile,
            "--node-name",
            "node-x",
            "--mode",
            mode,
            "--kube-version",
            version,
        ]
    )
    assert code == 0
    objects = json.loads(capsys.readouterr().out)
    assert objects and all(o["kind"] == "ResourceSlice" for o in objects)
    for obj in objects:
        kubernetes_validate.validate(obj, f"{version}.0", strict=True)
        assert obj["spec"]["nodeName"] == "node-x"
        assert obj["spec"]["pool"] == {"name": "node-x", "generation": 1, "resourceSliceCount": len(objects)}


def test_discover_yaml_output_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["discover", "--profile", "h200x8", "--node-name", "n", "--mode", "capacity", "-o", "yaml"]) == 0
    )
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    devices = [d for doc in documents for d in doc["spec"].get("devices", [])]
    assert [d["name"] for d in devices] == [f"gpu-{i}" for i in range(8)]
    assert all(d["allowMultipleAllocations"] for d in devices)


def test_discover_auto_on_134_uses_what_134_enables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--profile", "a100x4", "--node-name", "n", "--kube-version", "1.34"]) == 0
    objects = json.loads(capsys.readouterr().out)
    names = [d["name"] for o in objects for d in o["spec"].get("devices", [])]
    assert names[:2] == ["gpu-0-r0", "gpu-0-r1"]  # replicas: the consumable-capacity gates are alpha in 1.34


def test_discover_nvidia_without_driver_exits_non_zero_with_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pynvml

    def missing_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "_LoadNvmlLibrary", missing_library)
    monkeypatch.setattr(pynvml, "nvmlLib", None)
    assert main(["discover", "--backend", "nvidia", "--node-name", "n"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hdra: no NVIDIA driver found on this node")
    assert "Not Found" in err or "not found" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["discover", "--profile", "nope"], "nope"),
        (["discover", "--kube-version", "1.20"], "--kube-version"),
        (["discover", "--partitions", "2,x"], "--partitions"),
        (["discover", "--shares", "0", "--mode", "capacity"], "shares"),
    ],
)
def test_bad_flags_name_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_demo_prints_every_card_of_the_three_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"node-\w+\s+gpu-\d+\s", line)]
    assert len(rows) == 4 + 8 + 8
    assert sum("NVIDIA H200" in r for r in rows) == 8 + 4
    assert sum("V100" in r for r in rows) == 2
    assert "capacity mode" in out


def test_demo_with_consumable_capacity_off_falls_back(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--feature-gates", "DRAConsumableCapacity=false"]) == 0
    captured = capsys.readouterr()
    assert "partitions mode" in captured.out
