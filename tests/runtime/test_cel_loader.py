"""The ``cel`` package loaded without its CLI (dra_driver/runtime/cel_loader.py).

Each case runs in a fresh interpreter: which modules a process imports is process-wide state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


_REPORT = """
import json, sys
names = sorted(n for n in dir(cel) if not n.startswith("_"))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"typer", "rich", "prompt_toolkit", "pygments"}
               or m == "cel.cli")
print(json.dumps({"names": names, "heavy": heavy, "value": cel.evaluate("1 + 2 == 3"),
                  "stdlib": cel.stdlib.__name__}))
"""


def test_the_loader_gives_the_real_packages_names_without_the_cli() -> None:
    real = _run("import cel" + _REPORT)
    loaded = _run("from dra_driver.runtime.cel_loader import cel" + _REPORT)
    assert real["heavy"] != []  # the package's own __init__ does import its CLI (else this test is moot)
    assert loaded["heavy"] == []
    assert loaded["names"] == [name for name in real["names"] if name != "cli"]
    assert loaded["value"] is True and loaded["stdlib"] == "cel.stdlib"


def test_a_later_plain_import_gets_the_same_package_and_the_cli_still_loads() -> None:
    done = _run(
        "import json; from dra_driver.runtime.cel_loader import cel as loaded\n"
        "import cel, cel.cli\n"
        "print(json.dumps({'same': cel is loaded, 'cli': hasattr(cel.cli, 'app')}))"
    )
    assert done == {"same": True, "cli": True}


def test_a_package_imported_before_is_left_as_it_is() -> None:
    done = _run(
        "import json, cel; before = cel\n"
        "from dra_driver.runtime.cel_loader import cel as loaded\n"
        "print(json.dumps({'same': loaded is before, 'cli': 'cel.cli' in __import__('sys').modules}))"
    )
    assert done == {"same": True, "cli": True}
