"""benchmarks/run: the table and results.json from canned benchmark JSON, and a real quick run of two
benchmarks through the executable (the full quick run is `make bench-quick`, outside `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.benchmarks.test_benchmarks_run import BENCHMARKS, load


def test_rows_merge_p50_with_p99_and_put_ratios_in_their_column() -> None:
    run = load("run")
    rows = run.rows_for(
        "prepare",
        {"bare_p50_ms": 0.5, "bare_p99_ms": 0.9, "ratio_prepare1_to_bare": 9.0, "cycles": 50, "samples": [1]},
    )
    assert rows == [
        run.Row("prepare", "bare_ms", median=0.5, p99=0.9),
        run.Row("prepare", "ratio_prepare1_to_bare", ratio=9.0),
    ]
    nested = run.rows_for(
        "webhook", {"mutate": {"p50_ms": 2.0, "p99_ms": 5.0}, "mutate_vs_healthz_rate": 0.1}
    )
    assert nested == [
        run.Row("webhook", "mutate.ms", median=2.0, p99=5.0),
        run.Row("webhook", "mutate_vs_healthz_rate", ratio=0.1),
    ]
    table = run.render(rows, [run.Outcome("crash_run", 2, 1.0, None, "boom")])
    assert "bare_ms" in table and "0.90" in table and "9.00" in table
    assert table.splitlines()[-1] == "FAILED crash_run: exit 2: boom"


def test_a_failing_or_silent_benchmark_makes_the_run_fail(tmp_path: Path) -> None:
    run = load("run")
    (tmp_path / "publish.py").write_text(
        "import json, sys\nout = sys.argv[sys.argv.index('--json') + 1]\n"
        "open(out, 'w').write(json.dumps({'x_p50_ms': 1.0, 'quick': '--quick' in sys.argv}))\n"
    )
    (tmp_path / "prepare.py").write_text("raise SystemExit(3)\n")
    out = tmp_path / "results.json"
    assert (
        run.main(["--quick", "--only", "publish", "prepare", "--json", str(out), "--dir", str(tmp_path)]) == 1
    )
    document = json.loads(out.read_text())
    assert document["benchmarks"]["publish"]["result"] == {"x_p50_ms": 1.0, "quick": True}
    assert document["benchmarks"]["prepare"]["returncode"] == 3
    assert document["rows"] == [
        {"benchmark": "publish", "metric": "x_ms", "median": 1.0, "p99": None, "ratio": None}
    ]
    assert document["machine"]["cpus"] >= 1


def test_the_executable_runs_two_quick_benchmarks(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "run"),
            "--quick",
            "--only",
            "allocator",
            "publish",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(out.read_text())
    assert set(document["benchmarks"]) == {"allocator", "publish"}
    assert any(r["metric"] == "dev.publish_vs_raw_ratio" and r["ratio"] > 0 for r in document["rows"])
    assert "benchmark" in done.stdout.splitlines()[0]


def test_the_written_path_is_shown_relative_to_the_repository(tmp_path: Path) -> None:
    """Issue 18 item 21: RESULTS.md carried the development machine's absolute checkout path."""
    run = load("run")
    assert run.shown_path(BENCHMARKS / "results.json") == "benchmarks/results.json"
    assert run.shown_path(tmp_path / "r.json", root=BENCHMARKS.parent) == str(tmp_path / "r.json")
    results = (BENCHMARKS / "RESULTS.md").read_text()
    assert "(written to benchmarks/results.json;" in results
    assert str(BENCHMARKS.parent) not in results and "/work/" not in results
