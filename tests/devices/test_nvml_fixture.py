"""Recorded NVML fixtures: FakeNvmlLib.from_fixture replays them, the recorder round-trips."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pynvml
import pytest

from dra_driver.devices import AcceleratorDevice, BackendError, Version
from dra_driver.devices.nvidia import NvidiaBackend
from tests.devices.conftest import two_gpus
from tests.support.fake_nvml import FakeNvmlLib

FIXTURES = Path(__file__).parent / "fixtures"
RECORDER = Path(__file__).parents[2] / "tools" / "record_nvml_fixture.py"

SysfsBuilder = Callable[[dict[str, str]], Path]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def recorder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_nvml_fixture", RECORDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replay(
    fixture: dict[str, Any], install: Callable[[FakeNvmlLib], FakeNvmlLib], sysfs: SysfsBuilder
) -> list[AcceleratorDevice]:
    """Discover from a fixture on a sysfs holding the PCIe roots the recording host had."""
    expected = fixture["accelerator_devices"]
    roots = {d["pci_bus_id"]: d["pcie_root"] for d in expected if d["pci_bus_id"] and d["pcie_root"]}
    install(FakeNvmlLib.from_fixture(fixture))
    return NvidiaBackend(sysfs_root=sysfs(roots)).discover()


def test_h200_fixture_gives_the_recorded_devices(
    install_nvml: Callable[[FakeNvmlLib], FakeNvmlLib], sysfs: SysfsBuilder
) -> None:
    fixture = load("nvml_h200x1.json")
    devices = replay(fixture, install_nvml, sysfs)
    assert devices == [AcceleratorDevice.model_validate(d) for d in fixture["accelerator_devices"]]
    assert devices[0].memory_bytes == 150754820096
    # recorded on a real H200 (driver 580.159.04)
    assert devices[0].driver_version == Version(semver="580.159.4")


def test_fixture_error_markers_replay(
    install_nvml: Callable[[FakeNvmlLib], FakeNvmlLib], tmp_path: Path
) -> None:
    fixture = load("nvml_h200x1.json")
    device = fixture["devices"][0]
    device["mig_mode"] = "NotSupported"
    device["architecture"] = "FunctionNotFound"
    device["minor"] = {"nvml_error": pynvml.NVML_ERROR_NO_PERMISSION, "message": "Insufficient Permissions"}
    lib = install_nvml(FakeNvmlLib.from_fixture(fixture))
    assert "nvmlDeviceGetArchitecture" in lib.missing
    with pytest.raises(BackendError, match="nvmlDeviceGetMinorNumber failed: NVMLError_NoPermission"):
        NvidiaBackend(sysfs_root=tmp_path).discover()
    device["minor"] = 0
    install_nvml(FakeNvmlLib.from_fixture(fixture))
    found = NvidiaBackend(sysfs_root=tmp_path).discover()[0]
    assert (found.architecture, found.extra_attributes["migEnabled"]) == ("", False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"memroy_total": 1}, r"unknown keys \['memroy_total'\]"),
        ({"index": 3}, "says index 3"),
        ({"minor": {"nvml_error": "oops"}}, "recorded answer of nvmlDeviceGetMinorNumber"),
    ],
)
def test_malformed_fixture_is_rejected(change: dict[str, Any], message: str) -> None:
    fixture = load("nvml_h200x1.json")
    fixture["devices"][0].update(change)
    with pytest.raises(ValueError, match=message):
        FakeNvmlLib.from_fixture(fixture)


def test_fixture_lacking_a_key_is_rejected() -> None:
    fixture = load("nvml_h200x1.json")
    del fixture["devices"][0]["brand"]
    with pytest.raises(ValueError, match="lacks 'brand'"):
        FakeNvmlLib.from_fixture(fixture)


def test_recorder_output_replays_to_the_same_devices(
    install_nvml: Callable[[FakeNvmlLib], FakeNvmlLib], sysfs: SysfsBuilder
) -> None:
    gpus = two_gpus()
    gpus[1].mig_mode = None  # recorded as "NotSupported"
    source = install_nvml(FakeNvmlLib(gpus))
    recorded = json.loads(json.dumps(recorder().record()))
    assert source.init_depth == 0
    assert recorded["devices"][1]["mig_mode"] == "NotSupported"
    assert recorded["devices"][0]["pci_bus_id"] == "00000000:1B:00.0"
    replayed = replay(recorded, install_nvml, sysfs)
    assert replayed == [AcceleratorDevice.model_validate(d) for d in recorded["accelerator_devices"]]
    assert [d.uuid for d in replayed] == [g.uuid for g in gpus]


def test_recorder_main_prints_json(
    install_nvml: Callable[[FakeNvmlLib], FakeNvmlLib], capsys: pytest.CaptureFixture[str]
) -> None:
    install_nvml(FakeNvmlLib(two_gpus()))
    assert recorder().main() == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["format"] == "hdra.io/nvml-fixture/v1"
    assert [d["name"] for d in printed["devices"]] == ["NVIDIA H200", "NVIDIA A100-SXM4-40GB"]


def test_recorder_main_reports_missing_library(
    nvml_missing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert recorder().main() == 1
    assert "NVMLError_LibraryNotFound" in capsys.readouterr().err
