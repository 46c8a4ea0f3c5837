"""Run every hdra benchmark and print one table (issue 9 point 5).

Owns: starting each benchmark script of this folder (``startup``, ``publish``, ``prepare``,
``allocator``, ``webhook``, ``scheduler`` and ``crash_run`` when it exists) as a subprocess with ``--json``,
turning their differently shaped JSON results into rows (benchmark, metric, median, p99, ratio to the in-run
baseline) and writing all of it to ``benchmarks/results.json``. ``--quick`` passes ``--quick`` on.
Must never measure anything itself or invent a number: every value in the table is one a benchmark
reported; a benchmark that fails is listed with its exit status and makes the run exit non-zero.

Run: ``benchmarks/run [--quick] [--only NAME ...] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The order of the table; crash_run is optional (it is skipped when its script is absent).
BENCHMARKS = ("startup", "publish", "prepare", "allocator", "webhook", "scheduler", "crash_run")
OPTIONAL = frozenset({"crash_run"})
DEFAULT_OUTPUT = HERE / "results.json"
# `benchmarks/run` starts with /usr/bin/env python3; the benchmarks need the project's venv.
VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"
# Input sizes, not measurements: kept in results.json, left out of the table.
SIZE_KEYS = frozenset({"runs", "rounds", "cycles", "admissions", "nodes", "cards", "repeat", "claims"})


@dataclass(frozen=True)
class Row:
    """One line of the table; ``None`` marks a column the benchmark has no value for."""

    benchmark: str
    metric: str
    median: float | None = None
    p99: float | None = None
    ratio: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What one benchmark subprocess did: its exit status, wall time and parsed JSON (if any)."""

    name: str
    returncode: int
    seconds: float
    result: dict[str, Any] | None
    error: str = ""


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a JSON object as dotted keys; lists (raw samples) and booleans are skipped."""
    out: dict[str, float] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        out[prefix] = float(value)
    return out


def _is_ratio(key: str) -> bool:
    leaf = key.rsplit(".", 1)[-1]
    return "ratio" in leaf or "_vs_" in leaf


def _metric_name(key: str) -> str:
    """``prepare1_p50_ms`` and ``mutate.p50_ms`` name the same metric as their p99 twin without p50."""
    return key.replace("_p50_", "_").replace(".p50_", ".").replace("p50_", "")


def rows_for(benchmark: str, result: Mapping[str, Any]) -> list[Row]:
    """The table rows of one benchmark's JSON: p50/p99 pairs merge, ratios get the ratio column."""
    leaves = flatten(result)
    rows: list[Row] = []
    for key, value in leaves.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf in SIZE_KEYS:
            continue
        if "p99" in leaf:
            twin = key.replace("p99", "p50")
            if twin in leaves:
                continue  # merged into the p50 row below
            rows.append(Row(benchmark, key.replace("p99_", "").replace("_p99", ""), p99=value))
        elif _is_ratio(key):
            rows.append(Row(benchmark, key, ratio=value))
        elif "p50" in leaf:
            rows.append(
                Row(benchmark, _metric_name(key), median=value, p99=leaves.get(key.replace("p50", "p99")))
            )
        else:
            rows.append(Row(benchmark, key, median=value))
    return rows


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"


def render(rows: Sequence[Row], failures: Iterable[Outcome] = ()) -> str:
    """One plain-text table of every row, then one line per failed benchmark."""
    header = ("benchmark", "metric", "median", "p99", "ratio")
    cells = [header] + [(r.benchmark, r.metric, _cell(r.median), _cell(r.p99), _cell(r.ratio)) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = []
    for n, line in enumerate(cells):
        left = [line[i].ljust(widths[i]) for i in range(2)]
        right = [line[i].rjust(widths[i]) for i in range(2, len(header))]
        lines.append("  ".join(left + right).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"FAILED {o.name}: exit {o.returncode}: {o.error}" for o in failures]
    return "\n".join(lines)


def run_one(name: str, script: Path, quick: bool) -> Outcome:
    """Run one benchmark script with ``--json`` (and ``--quick``); its table goes to stderr."""
    with tempfile.TemporaryDirectory(prefix=f"hdra-bench-{name}-") as tmp:
        out = Path(tmp) / "result.json"
        python = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
        command = [python, str(script), "--json", str(out)] + (["--quick"] if quick else [])
        began = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, check=False)
        seconds = time.perf_counter() - began
        sys.stderr.write(done.stdout)
        if not out.exists():
            return Outcome(name, done.returncode or 1, seconds, None, f"{script} wrote no JSON to {out}")
        try:
            result = json.loads(out.read_text())
        except json.JSONDecodeError as exc:
            return Outcome(name, done.returncode or 1, seconds, None, f"{script} wrote invalid JSON: {exc}")
    if not isinstance(result, dict):
        return Outcome(name, done.returncode or 1, seconds, None, f"{script} JSON is not an object")
    error = "" if done.returncode == 0 else f"{script} exited {done.returncode}"
    return Outcome(name, done.returncode, seconds, result, error)


def machine() -> dict[str, Any]:
    """Where the numbers came from: the README quotes this next to the table."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def report(outcomes: Sequence[Outcome], quick: bool) -> dict[str, Any]:
    """The results.json document: machine, every benchmark's raw result and the table rows."""
    rows = [row for o in outcomes if o.result is not None for row in rows_for(o.name, o.result)]
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
        "machine": machine(),
        "benchmarks": {
            o.name: {"returncode": o.returncode, "seconds": o.seconds, "error": o.error, "result": o.result}
            for o in outcomes
        },
        "rows": [asdict(r) for r in rows],
    }


def selected(only: Sequence[str], folder: Path) -> list[tuple[str, Path]]:
    """The benchmarks to run, in table order; an unknown ``--only`` name is an error naming it."""
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    chosen = []
    for name in BENCHMARKS:
        script = folder / f"{name}.py"
        if only and name not in only:
            continue
        if not script.exists():
            if name in OPTIONAL and not only:
                continue
            raise SystemExit(f"benchmark script {script} does not exist")
        chosen.append((name, script))
    return chosen


def shown_path(path: Path, root: Path = HERE.parent) -> str:
    """``path`` relative to the repository when it lies inside it (the table is pasted into
    RESULTS.md, which must not name the machine's checkout), else as given."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark (CI)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help=f"a subset of {BENCHMARKS}")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUTPUT, help="where to write results.json")
    parser.add_argument("--dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    outcomes = []
    for name, script in selected(args.only, args.dir):
        print(f"== {name}{' (quick)' if args.quick else ''}", file=sys.stderr)
        outcomes.append(run_one(name, script, args.quick))
    document = report(outcomes, args.quick)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    failures = [o for o in outcomes if o.returncode != 0 or o.result is None]
    rows = [Row(**r) for r in document["rows"]]
    print(render(rows, failures))
    where = shown_path(args.json)
    print(f"(written to {where}; {document['machine']['cpus']} CPUs, Python {platform.python_version()})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
