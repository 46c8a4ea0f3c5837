"""``hdra discover --backend <vendor> --<vendor>-tool <script>`` prints strictly valid slices."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

from dra_driver.cli.main import main
from tests.devices.vendor_tools import tool_script


@pytest.mark.parametrize("vendor", ["ascend", "cambricon", "hygon", "amd"])
@pytest.mark.parametrize("mode", ["capacity", "partitions"])
def test_discover_with_a_vendor_tool_prints_valid_slices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], vendor: str, mode: str
) -> None:
    tool = tool_script(tmp_path, vendor)
    argv = [
        "discover",
        "--backend",
        vendor,
        f"--{vendor}-tool",
        str(tool),
        "--node-name",
        "n",
        "--mode",
        mode,
    ]
    assert main(argv) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")  # what kubectl apply -f - accepts
    objects = listed["items"]
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, "1.36.0", strict=True)
        assert obj["spec"]["driver"] == f"{vendor}.hdra.io"
    devices = [d for obj in objects for d in obj["spec"].get("devices", [])]
    vendors = {d["attributes"]["vendor"]["string"] for d in devices}
    assert vendors == {vendor}


def test_discover_with_a_missing_tool_says_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "npu-smi"
    assert main(["discover", "--backend", "ascend", "--ascend-tool", str(missing), "--node-name", "n"]) == 1
    assert f"no ascend tool found at {missing}" in capsys.readouterr().err


def test_a_tool_flag_for_another_backend_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", "--backend", "amd", "--hygon-tool", str(tmp_path), "--node-name", "n"]) == 1
    assert "--hygon-tool needs --backend hygon" in capsys.readouterr().err
