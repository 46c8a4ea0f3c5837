"""Benchmark: wall time of the command line after installation (issue 17 item 6).

Runs each command as a user would, a fresh process each time, one warm-up run first, then
``--runs`` timed runs. "After installation" means with compiled bytecode, as ``pip install .``
leaves it or as the first run writes it: the children run with ``PYTHONPYCACHEPREFIX`` set to a
temp dir (outside the work tree) and without ``PYTHONDONTWRITEBYTECODE``, so the warm-up writes the
bytecode and the timed runs read it, whatever the calling shell's settings. (Without any bytecode,
e.g. under ``PYTHONDONTWRITEBYTECODE=1`` on a fresh checkout, every run also compiles hdra's
modules.) The commands:
- ``interpreter``: ``python -c pass`` with the project's interpreter — the floor every command pays;
- ``help``: ``hdra --help`` (target <= 0.2 s);
- ``demo_import``: ``python -c "import dra_driver.cli.demo"`` — what the demo pays before it runs;
- ``demo``: ``hdra demo`` on the embedded dev cluster (target <= 1.5 s), which must exit 0.
Reports p50/p99 wall seconds per command (nearest rank: with few runs p99 is the slowest run), the
p50 of the CPU seconds (user + system) the process used, each target's ratio (wall p50 / target;
<= 1 meets it) and the 1-minute load average before and after: on a shared machine the load decides
the wall time as much as the code does, while the CPU seconds move much less with it.

Run: ``.venv/bin/python benchmarks/startup.py [--runs 7] [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Issue 17 item 6, seconds of wall time.
TARGETS = {"help": 0.2, "demo": 1.5}


def commands(python: Path) -> dict[str, list[str]]:
    """Each measured command; ``hdra`` is the console script installed next to ``python``."""
    hdra = python.parent / "hdra"
    entry = [str(hdra)] if hdra.exists() else [str(python), "-m", "dra_driver.cli.main"]
    return {
        "interpreter": [str(python), "-c", "pass"],
        "help": [*entry, "--help"],
        "demo_import": [str(python), "-c", "import dra_driver.cli.demo"],
        "demo": [*entry, "demo"],
    }


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bytecode_env(cache: Path) -> dict[str, str]:
    """The environment for the children: bytecode written to and read from ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def timed_runs(
    argv: list[str], runs: int, env: dict[str, str] | None = None
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per run of ``argv`` (after one untimed warm-up); a failed run stops
    the benchmark."""
    walls, cpus = [], []
    for index in range(runs + 1):
        cpu = _children_cpu_s()
        began = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120, env=env)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        if index:
            walls.append(seconds)
            cpus.append(_children_cpu_s() - cpu)
    return walls, cpus


def run(runs: int, python: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"runs": runs, "loadavg_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="hdra-startup-pycache-") as cache:
        env = bytecode_env(Path(cache))
        timings = {name: timed_runs(argv, runs, env) for name, argv in commands(python).items()}
    for name, (walls, cpus) in timings.items():
        result[name] = {
            "p50_s": _percentile(walls, 0.5),
            "p99_s": _percentile(walls, 0.99),
            "cpu_s": _percentile(cpus, 0.5),
        }
    result["loadavg_after"] = os.getloadavg()[0]
    for name, target in TARGETS.items():
        result[f"{name}_p50_vs_target_ratio"] = result[name]["p50_s"] / target
    return result


def table(result: dict[str, Any]) -> str:
    header = f"{'command':<28}  {'p50 s':>6}  {'p99 s':>6}  {'CPU s':>6}  {'target s':>8}"
    lines = [header, "-" * len(header)]
    labels = {
        "interpreter": "python -c pass",
        "help": "hdra --help",
        "demo_import": "import dra_driver.cli.demo",
        "demo": "hdra demo",
    }
    for name, label in labels.items():
        target = f"{TARGETS[name]:.2f}" if name in TARGETS else "-"
        lines.append(
            f"{label:<28}  {result[name]['p50_s']:>6.2f}  {result[name]['p99_s']:>6.2f}  "
            f"{result[name]['cpu_s']:>6.2f}  {target:>8}"
        )
    lines.append(
        f"({result['runs']} run(s) each after a warm-up; 1-minute load average "
        f"{result['loadavg_before']:.2f} before, {result['loadavg_after']:.2f} after)"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--quick", action="store_true", help="a small run for CI: 2 runs per command")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    result = run(2 if args.quick else args.runs, Path(sys.executable))
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
