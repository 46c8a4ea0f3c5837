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


def test_run_keeps_the_collector_off_while_loading_and_freezes_after_main_does_not() -> None:
    """gc off while the command's modules load, their objects frozen before the command runs, all
    frozen again once it returned; ``main`` (which tests call many times per process) touches none."""
    script = (
        "import argparse, gc, json\n"
        "from dra_driver.cli import main as cli\n"
        "refused = cli.main(['demo', '--kube-version', 'not-a-version'])\n"
        "after_main = [gc.isenabled(), gc.get_freeze_count()]\n"
        "seen = {}\n"
        "def parse(argv):\n"
        "    seen['parse'] = [gc.isenabled(), gc.get_freeze_count()]\n"
        "    return argparse.Namespace(run=command)\n"
        "def command(args):\n"
        "    seen['command'] = [gc.isenabled(), gc.get_freeze_count()]\n"
        "    seen['garbage'] = [[] for _ in range(100_000)]\n"
        "    return 7\n"
        "cli._parse = parse\n"
        "code = cli.run()\n"
        "after_run = [gc.isenabled(), gc.get_freeze_count()]\n"
        "print(json.dumps({'refused': refused, 'after_main': after_main, 'code': code,\n"
        "                  'seen': seen['parse'] + seen['command'], 'after_run': after_run}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert (report["refused"], report["after_main"]) == (1, [True, 0])
    parse_enabled, parse_frozen, command_enabled, command_frozen = report["seen"]
    assert (parse_enabled, parse_frozen) == (False, 0)
    assert command_enabled is True and command_frozen > 1000  # the loaded modules' objects
    assert report["code"] == 7
    assert report["after_run"][0] is True
    assert report["after_run"][1] > command_frozen + 100_000  # the command's objects too
