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
