"""Production vs development (issue 16 item 5): the production commands import only what they run,
and the container image does not install the development tools."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dra_driver.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
# The dev cluster, the simulator, the CEL engine (import name ``cel``) and the CEL engine's own CLI.
DEVELOPMENT_ONLY = re.compile(
    r"^(dra_driver\.devcluster|dra_driver\.sim|cel|prompt_toolkit|rich|typer)(\.|$)"
)
TOOLS = {"kubernetes", "kubernetes-validate", "jsonschema", "common-expression-language"}


def imported_modules(*argv: str) -> list[str]:
    """Every module ``python -X importtime -m dra_driver.cli.main ARGV`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dra_driver.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [
        line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
    ]


@pytest.mark.parametrize(
    ("command", "runs"),
    [
        ("kubelet-plugin", "dra_driver.node"),
        ("webhook", "dra_driver.webhook"),
        ("controller", "dra_driver.controller"),
    ],
)
def test_production_commands_import_no_development_module(command: str, runs: str) -> None:
    """The acceptance of issue 16: ``python -X importtime -m dra_driver.cli.main kubelet-plugin
    --help`` imports no module of devcluster, sim or cel. (importtime does not log a module loaded by
    ``importlib.import_module`` itself, only what it imports, so the command is seen by ``runs``.)"""
    modules = imported_modules(command, "--help")
    assert runs in modules  # the command's own code was loaded
    assert [m for m in modules if DEVELOPMENT_ONLY.match(m)] == []
    others = {f"dra_driver.cli.{name}" for name in ("demo", "simulate", "explain", "devcluster", "top")}
    assert others.isdisjoint(modules)


def test_the_top_level_help_lists_every_command_without_loading_one() -> None:
    modules = imported_modules("--help")
    assert [m for m in modules if m.startswith("dra_driver.cli.") and m not in {
        "dra_driver.cli.main", "dra_driver.cli.errors"
    }] == []  # fmt: skip
    # Nor the API client or the device backends (issue 17 item 6: `hdra --help` took 1.7-2.5 s).
    heavy = ("kubernetes", "dra_driver.kube", "dra_driver.devices", "pydantic", "grpc")
    assert [m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy)] == []


def test_the_demo_loads_the_cel_engine_without_its_cli() -> None:
    """Issue 17 item 6: ``cel``'s own ``__init__`` imports its interactive shell (typer, rich,
    prompt_toolkit, pygments); hdra loads the engine through dra_driver.runtime.cel_loader."""
    modules = imported_modules("demo", "--help")
    assert "dra_driver.runtime.cel_loader" in modules and "dra_driver.sim.cel_env" in modules
    shell = {"typer", "rich", "prompt_toolkit", "pygments"}
    assert [m for m in modules if m.split(".")[0] in shell or m == "cel.cli"] == []


# What a whole `hdra demo` run must not load (issue 17 item 6): the official client (hdra's own
# kube client and models serve the demo), its requests/oauthlib, and the schema libraries, which the
# dev cluster needs only to word a rejection (the demo's writes are all valid).
DEMO_NEVER_LOADS = frozenset(
    {"kubernetes", "requests", "oauthlib", "jsonschema", "kubernetes_validate", "referencing"}
)


def test_a_whole_demo_run_loads_neither_the_official_client_nor_the_schema_libraries() -> None:
    script = (
        "import contextlib, io, json, sys\n"
        "from dra_driver.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['demo'])\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["code"] == 0
    assert "dra_driver.devcluster.schema" in report["modules"]  # the dev cluster did validate
    assert [m for m in report["modules"] if m.split(".")[0] in DEMO_NEVER_LOADS] == []


@pytest.mark.parametrize("command", list(cli_main.COMMANDS))
def test_the_listed_help_is_the_commands_own(command: str) -> None:
    parser = cli_main.build_parser(command)
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {action.dest: action.help for action in subparsers._choices_actions}
    assert helps[command] == cli_main.COMMANDS[command][1]


def test_a_missing_development_tool_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError("No module named 'cel'", name="cel")

    monkeypatch.setattr(importlib, "import_module", missing)
    assert cli_main.main(["simulate", "--help"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "hdra: `hdra simulate` needs the development tools (cel is not installed): "
        "pip install 'hdra[tools]'\n"
    )


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_the_development_tools_are_an_extra_that_make_installs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert TOOLS.isdisjoint(_requirement_names(project["dependencies"]))
    assert _requirement_names(project["optional-dependencies"]["tools"]) == TOOLS
    assert "hdra[tools]" in project["optional-dependencies"]["dev"]
    assert "pip install --quiet -e '.[dev]'" in (REPO / "Makefile").read_text()


def test_the_image_installs_no_extra() -> None:
    """The Dockerfile's install line installs the package without extras, so kubernetes-validate,
    jsonschema and the CEL engine stay out of the image."""
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    installs = [line for line in lines if re.search(r"pip install(?! --upgrade pip)", line)]
    assert installs == ["&& /opt/hdra/bin/pip install . \\"], installs
