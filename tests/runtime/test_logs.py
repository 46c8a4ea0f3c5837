"""Logging like Kubernetes components (issue 16 item 7): key=value text, --log-format json, claim,
node, driver and device fields, -v verbosity, one logger name per package."""

from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import dra_driver
from dra_driver.cli import main as cli_main
from dra_driver.runtime import configure_logging, log_fields, set_process_fields
from dra_driver.runtime import logs as runtime_logs

PACKAGE = Path(dra_driver.__file__).parent


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The root logger writing to a string; handlers, level and process fields restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    process = dict(runtime_logs._process)
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    runtime_logs._process.clear()
    runtime_logs._process.update(process)


def test_text_lines_are_klog_headers_with_quoted_message_and_fields(stream: io.StringIO) -> None:
    configure_logging("text", stream=stream)
    set_process_fields(node="node-a", driver="mock.hdra.io")
    with log_fields(claim="default/c", uid="u-1"):
        logging.getLogger("hdra.prepare").warning(
            "claim %s: prepared %d device(s)", "c", 2, extra={"device": "gpu-0"}
        )
    (line,) = stream.getvalue().splitlines()
    header, rest = line.split("] ", 1)
    assert header[0] == "W" and header.endswith(" hdra.prepare")
    assert rest == (
        '"claim c: prepared 2 device(s)" node="node-a" driver="mock.hdra.io" device="gpu-0" '
        'claim="default/c" uid="u-1"'
    )


def test_json_lines_carry_the_same_fields(stream: io.StringIO) -> None:
    configure_logging("json", stream=stream)
    set_process_fields(node="node-a")
    try:
        raise ValueError("bad card")
    except ValueError:
        logging.getLogger("hdra.controller").error(
            "slice sync failed", exc_info=True, extra={"loop": "slice-sync"}
        )
    entry = json.loads(stream.getvalue())
    assert entry["msg"] == "slice sync failed" and entry["level"] == "error" and entry["v"] == 0
    assert (
        entry["logger"] == "hdra.controller" and entry["node"] == "node-a" and entry["loop"] == "slice-sync"
    )
    assert entry["err"] == "ValueError: bad card"
    assert isinstance(entry["ts"], float)


def test_context_fields_end_with_their_context(stream: io.StringIO) -> None:
    configure_logging("text", stream=stream)
    log = logging.getLogger("hdra.plugin")
    with log_fields(claim="ns/a"):
        log.info("inside")
    log.info("outside")
    inside, outside = stream.getvalue().splitlines()
    assert 'claim="ns/a"' in inside and "claim=" not in outside


def test_default_stream_is_the_stderr_of_the_moment(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that logs after sys.stderr was swapped (the old one closed, as a test harness's
    capture is) writes to the new stream, never to the closed one."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure_logging("text")
    logging.getLogger("hdra.test").info("one")
    first.close()
    monkeypatch.setattr("sys.stderr", second)
    logging.getLogger("hdra.test").info("two")
    (line,) = second.getvalue().splitlines()  # one record, no "--- Logging error ---" report
    # (process-wide fields such as node= may follow, as set by whichever test ran before)
    assert line.startswith("I") and 'hdra.test] "two"' in line


@pytest.mark.parametrize(("verbosity", "debug"), [(0, False), (3, False), (4, True), (9, True)])
def test_verbosity_follows_klog(verbosity: int, debug: bool) -> None:
    assert (runtime_logs.level_for(verbosity) == logging.DEBUG) is debug


def test_logging_flags_may_follow_the_sub_command() -> None:
    flags, rest = cli_main._logging_flags(
        ["kubelet-plugin", "-v", "4", "--node-name", "n", "--log-format", "json"]
    )
    assert flags.verbosity == 4 and flags.log_format == "json"
    assert rest == ["kubelet-plugin", "--node-name", "n"]


def test_a_bad_log_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["--log-format", "xml", "discover"])
    assert exited.value.code == 2
    assert "--log-format: invalid choice: 'xml'" in capsys.readouterr().err


def test_one_logger_name_per_package() -> None:
    """Every module logger of dra_driver/<package>/ is ``hdra.<package>``."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2 or parts[0] == "kubeletapi":
            continue
        for statement in ast.parse(path.read_text()).body:
            if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
                continue
            call = statement.value
            if ast.unparse(call.func) != "logging.getLogger":
                continue
            name = (
                ast.literal_eval(call.args[0])
                if call.args and isinstance(call.args[0], ast.Constant)
                else None
            )
            if name != f"hdra.{parts[0]}":
                wrong.append(f"{'/'.join(parts)}: {ast.unparse(call)}")
    assert wrong == []
