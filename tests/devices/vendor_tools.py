"""Test support: executable scripts that print the vendor fixtures, as the real tools would."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

# Each script answers exactly the invocations its backend makes, and fails on anything else.
SCRIPTS = {
    "ascend": """case "$*" in
  "info") cat {dir}/ascend/npu-smi-info.txt ;;
  "info -t board -i "*) cat {dir}/ascend/board-$5.txt ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac""",
    "cambricon": """[ "$*" = "info" ] || {{ echo "unexpected: $*" >&2; exit 2; }}
cat {dir}/cambricon/cnmon-info.txt""",
    "hygon": """case "$*" in
  *--json*) cat {dir}/hygon/hy-smi.json ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac""",
    "amd": """case "$1" in
  list) cat {dir}/amd/amd-smi-list.json ;;
  static) cat {dir}/amd/amd-smi-static.json ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac""",
}


def tool_script(tmp_path: Path, vendor: str, body: str | None = None) -> Path:
    """An executable script in ``tmp_path`` that behaves like ``vendor``'s tool on the fixtures."""
    path = tmp_path / f"{vendor}-tool"
    text = body if body is not None else SCRIPTS[vendor].format(dir=FIXTURES)
    path.write_text(f"#!/bin/sh\n{text}\n")
    path.chmod(0o755)
    return path


UNIQUE_ID = 0x123456789AB
"""The KFD unique_id of the first card in ``fake_sysfs`` (ROCr UUID ``GPU-00000123456789ab``)."""


def fake_sysfs(root: Path, bus_ids: list[str]) -> Path:
    """A sysfs tree as the amdgpu/hygon drivers lay it out (layout read by amd-device-plugin
    ``internal/pkg/amdgpu/amdgpu.go``): card i has ``drm/card<i+1>`` and ``drm/renderD<129+i>``
    under ``bus/pci/devices/<bus id>``, and a KFD topology node with its render minor and
    ``unique_id``; node 0 is a CPU node (render minor 0), which must be skipped."""
    nodes = root / "class" / "kfd" / "kfd" / "topology" / "nodes"
    (nodes / "0").mkdir(parents=True)
    (nodes / "0" / "properties").write_text("cpu_cores_count 64\nsimd_count 0\ndrm_render_minor 0\n")
    for i, bus_id in enumerate(bus_ids):
        drm = root / "bus" / "pci" / "devices" / bus_id / "drm"
        drm.mkdir(parents=True)
        (drm / f"card{i + 1}").mkdir()
        (drm / f"renderD{129 + i}").mkdir()
        node = nodes / str(i + 2)
        node.mkdir()
        (node / "properties").write_text(
            f"simd_count 1216\ndrm_render_minor {129 + i}\nunique_id {UNIQUE_ID + i}\n"
            "gfx_target_version 90402\n"
        )
    return root
