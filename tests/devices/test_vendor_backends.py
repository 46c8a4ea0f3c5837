"""Ascend, Cambricon, Hygon and AMD backends on fixture outputs: attributes, missing tool, garbage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dra_driver.devices import BackendError, BackendUnavailable, DeviceBackend, Version, make_backend
from dra_driver.devices.amd import AmdBackend
from dra_driver.devices.hygon import HygonBackend
from dra_driver.devices.tools import run_tool
from tests.devices.vendor_tools import fake_sysfs, tool_script

GIB = 1024**3

EXPECTED = [
    # vendor, names, product, memory, uuid of device 0, driver version, bus of device 0, extras
    ("ascend", ["npu-0", "npu-1"], "Ascend910B3", 64 * GIB, "102400A3C4150052", "23.0.0-rc3",
     "0000:c1:00.0", {"aiCore": 20, "aiCpu": 7}),
    ("cambricon", ["mlu-0", "mlu-1"], "MLU370-X8", 48 * GIB, "MLU-20a4c2f0-1a22-4c9b-9d3e-6e1f0a5b2c70",
     "4.20.18", "0000:1a:00.0", {}),
    ("hygon", ["dcu-0", "dcu-1"], "Z100", 34342961152, "0x8f2a41c06d7e9b13", "5.16.29", "0000:04:00.0",
     {"computeUnits": 60, "drmCard": 1, "drmRender": 129}),
    ("amd", ["gpu-0", "gpu-1"], "AMD Instinct MI300X", 196592 * 1024 * 1024,
     "3fff74a1-0000-1000-80ea-9c3c5b2e710d", "6.8.5", "0000:05:00.0",
     {"computeUnits": 304, "drmCard": 1, "drmRender": 129, "rocrUuid": "GPU-00000123456789ab"}),
]  # fmt: skip


def backend_for(vendor: str, tmp_path: Path) -> DeviceBackend:
    """The vendor's backend on its fixture tool; AMD and Hygon also read a fake sysfs."""
    tool = tool_script(tmp_path, vendor)
    if vendor == "amd":
        return AmdBackend(tool, sys_root=fake_sysfs(tmp_path / "sys", ["0000:05:00.0", "0000:26:00.0"]))
    if vendor == "hygon":
        return HygonBackend(tool, sys_root=fake_sysfs(tmp_path / "sys", ["0000:04:00.0", "0000:24:00.0"]))
    return make_backend(vendor, node_name="n", tool=tool)


@pytest.mark.parametrize("case", EXPECTED, ids=[case[0] for case in EXPECTED])
def test_discovery_reads_the_documented_output(tmp_path: Path, case: tuple[object, ...]) -> None:
    vendor, names, product, memory, uuid, version, bus, extra = case
    assert isinstance(vendor, str) and isinstance(version, str)
    backend = backend_for(vendor, tmp_path)
    devices = backend.discover()
    assert backend.vendor == vendor
    assert [d.name for d in devices] == names
    assert [d.index for d in devices] == [0, 1]
    first = devices[0]
    assert (first.vendor, first.product_name, first.memory_bytes, first.uuid) == (
        vendor,
        product,
        memory,
        uuid,
    )
    assert first.driver_version == Version(semver=version)
    assert first.pci_bus_id == bus
    assert first.extra_attributes == extra
    assert devices[0].uuid != devices[1].uuid


@pytest.mark.parametrize("vendor", ["ascend", "cambricon", "hygon", "amd"])
def test_a_missing_tool_is_unavailable_and_named(tmp_path: Path, vendor: str) -> None:
    missing = tmp_path / "absent" / "tool"
    with pytest.raises(BackendUnavailable, match=f"no {vendor} tool found at {missing}"):
        make_backend(vendor, node_name="n", tool=missing).discover()


GARBLED = [
    ("ascend", "echo '| npu-smi 23.0.rc3   Version: 23.0.rc3 |'; echo '| zero  910B3 |'", "| zero  910B3 |"),
    ("cambricon", "echo 'Card 0'; echo '  Product Name : MLU370-X8'; echo '  UUID : u'; "
     "echo '  Physical Memory Usage'; echo '    Total : lots'", "Total : lots"),
    ("hygon", "echo '{\"card0\": {'; echo 'Card series: Z100'", "Card series: Z100"),
    ("amd", "echo '[{\"gpu\": 0,'; echo 'oops'", "oops"),
]  # fmt: skip


@pytest.mark.parametrize(("vendor", "body", "line"), GARBLED)
def test_unparseable_output_quotes_the_offending_line(
    tmp_path: Path, vendor: str, body: str, line: str
) -> None:
    backend = make_backend(vendor, node_name="n", tool=tool_script(tmp_path, vendor, body))
    with pytest.raises(BackendError, match="cannot parse the output of") as info:
        backend.discover()
    assert repr(line) in str(info.value)


def test_a_failing_tool_names_the_command_and_its_error(tmp_path: Path) -> None:
    tool = tool_script(tmp_path, "cambricon", "echo 'cnmon: driver not loaded' >&2; exit 3")
    with pytest.raises(BackendError, match=r"info exited with status 3: cnmon: driver not loaded"):
        make_backend("cambricon", node_name="n", tool=tool).discover()


def test_an_unreadable_driver_version_is_dropped_not_published(tmp_path: Path) -> None:
    body = (
        'echo \'{"card0": {"Card series": "Z100", "Unique ID": "0x1", '
        '"VRAM Total Memory (B)": "1073741824"}, "system": {"Driver version": "dtk-latest"}}\''
    )
    (device,) = make_backend("hygon", node_name="n", tool=tool_script(tmp_path, "hygon", body)).discover()
    assert device.driver_version is None
    assert device.pci_bus_id is None


def test_a_tool_path_is_refused_for_the_mock_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="applies only to ascend, cambricon, hygon, amd"):
        make_backend("mock", node_name="n", tool=tmp_path)


MOCKS = [
    ("ascend910bx8", "ascend", "npu", "npu-7", "Ascend910B3", 64, {"aiCore", "aiCpu"}),
    ("mlu370x4", "cambricon", "mlu", "mlu-3", "MLU370-X8", 48, set()),
    ("dcuz100x4", "hygon", "dcu", "dcu-3", "Z100", 32, {"computeUnits", "drmCard", "drmRender"}),
    (
        "mi300x8",
        "amd",
        "gpu",
        "gpu-7",
        "AMD Instinct MI300X",
        192,
        {"computeUnits", "drmCard", "drmRender", "rocrUuid"},
    ),
]


@pytest.mark.parametrize("case", MOCKS, ids=[case[0] for case in MOCKS])
def test_vendor_mock_profiles_match_their_real_backends(
    case: tuple[str, str, str, str, str, int, set[str]],
) -> None:
    profile, vendor, kind, name, product, memory_gib, extra_keys = case
    devices = make_backend("mock", node_name="n", profile=profile).discover()
    last = devices[-1]
    assert (last.name, last.vendor, last.device_type, last.product_name) == (name, vendor, kind, product)
    assert last.memory_bytes == memory_gib * GIB
    assert set(last.extra_attributes) == extra_keys


def test_sysfs_without_the_card_gives_no_drm_attributes_and_no_error(tmp_path: Path) -> None:
    backend = AmdBackend(tool_script(tmp_path, "amd"), sys_root=fake_sysfs(tmp_path / "sys", []))
    first = backend.discover()[0]
    assert first.extra_attributes == {"computeUnits": 304}  # prepare then names the missing attribute


def test_a_910c_chip_named_ascend910_is_not_prefixed_twice(tmp_path: Path) -> None:
    # HAMi charts/hami/templates/scheduler/device-configmap.yaml: chipName "Ascend910" (commonWord
    # Ascend910C); the webhook's Ascend910C family matches productName "Ascend910".
    fixtures = Path(__file__).parent / "fixtures" / "ascend"
    summary = (fixtures / "npu-smi-info.txt").read_text().replace("910B3", "Ascend910")
    (tmp_path / "info.txt").write_text(summary)
    body = f"""case "$*" in
  "info") cat {tmp_path}/info.txt ;;
  "info -t board -i "*) cat {fixtures}/board-$5.txt ;;
esac"""
    devices = make_backend("ascend", node_name="n", tool=tool_script(tmp_path, "ascend", body)).discover()
    assert {d.product_name for d in devices} == {"Ascend910"}
    assert devices[0].extra_attributes == {"aiCore": 20, "aiCpu": 7}


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a killed child nobody reaped yet shows as a zombie: not alive)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_hung_tool_is_killed_with_every_child_it_started(tmp_path: Path) -> None:
    """Issue 18 item 18: after the timeout the tool was killed, but its child ``sleep`` kept running."""
    pids = tmp_path / "pids"
    tool = tmp_path / "hang"
    tool.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {pids}\nsleep 1000\n")
    tool.chmod(0o755)
    with pytest.raises(BackendError, match=r"did not answer within 0.5 s"):
        run_tool(tool, ["info"], vendor="hygon", timeout=0.5)
    (child,) = [int(pid) for pid in pids.read_text().split()]
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"the tool's child {child} outlived the timeout"
