"""The ``hdra`` console script: ``run`` is ``main`` for a whole process (dra_driver/cli/main.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_console_script_is_run() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"hdra": "dra_driver.cli.main:run"}


def test_run_freezes_the_collector_once_the_command_returned_and_main_does_not() -> None:
    """Freezing is for the process's exit only: tests call ``main`` many times in one process."""
    script = (
        "import gc, json\n"
        "from dra_driver.cli import main as cli\n"
        "refused = cli.main(['demo', '--kube-version', 'not-a-version'])\n"
        "after_main = gc.get_freeze_count()\n"
        "seen = []\n"
        "cli.main = lambda argv=None: seen.append(gc.get_freeze_count()) or 7\n"
        "code = cli.run()\n"
        "print(json.dumps({'refused': refused, 'after_main': after_main, 'code': code,\n"
        "                  'during': seen, 'after_run': gc.get_freeze_count()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert (report["refused"], report["after_main"]) == (1, 0)
    assert report["code"] == 7 and report["during"] == [0]
    assert report["after_run"] > 1000  # the interpreter's and hdra's objects, moved at the end
