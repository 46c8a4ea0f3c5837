"""The benchmarks still run end to end (tiny sizes; no timing is asserted here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dra_driver.slices import SharingMode

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"hdra_benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_publish_benchmark_runs_and_resync_writes_nothing() -> None:
    result = load("publish").run(nodes=3, repeat=1, creates=10, progress=False)
    assert result["dev"]["publish_writes"] == 3
    assert result["dev"]["samples"][0]["creates"] == 10  # one slice per node in capacity mode
    assert result["dev"]["resync_writes"] == 0
    assert "ratio" in load("publish").table(result)


def test_prepare_benchmark_runs() -> None:
    module = load("prepare")
    result = module.run(cycles=3, rounds=3, progress=False)
    assert result["rss_start_mib"] > 0
    assert set(result["peer_ratio"]) >= {"hdra_vs_peer_prepare1_p50", "hdra_tmpfs_vs_peer_prepare50_p99"}
    assert result["storage"]["tmpfs_filesystem"] == "tmpfs"
    assert "peer         50 claims" in module.table(result)


def test_scheduler_benchmark_asks_each_mode_for_one_share() -> None:
    """The requests the scheduler benchmark streams (the run itself needs hdra-k8s: make bench)."""
    module = load("scheduler")
    capacity = module.request_for(SharingMode.CAPACITY)["exactly"]
    assert capacity["capacity"]["requests"] == {"memory": "16Gi", "cores": "12"}
    assert (
        "parentUUID"
        in module.request_for(SharingMode.EXCLUSIVE)["exactly"]["selectors"][0]["cel"]["expression"]
    )
    assert (
        "compareTo"
        in module.request_for(SharingMode.PARTITIONS)["exactly"]["selectors"][0]["cel"]["expression"]
    )
    assert module.request_for(SharingMode.REPLICAS)["exactly"] == {"deviceClassName": "nvidia.hdra.io"}


def test_startup_benchmark_times_fresh_processes_and_stops_on_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load("startup")
    walls, cpus = module.timed_runs([sys.executable, "-c", "pass"], 2)
    assert len(walls) == len(cpus) == 2 and min(walls) > 0 and min(cpus) >= 0
    with pytest.raises(SystemExit, match="exited 1: no"):
        module.timed_runs([sys.executable, "-c", "import sys; sys.exit('no')"], 1)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = module.bytecode_env(tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    module.timed_runs([sys.executable, "-c", "import json"], 1, env)
    assert list(tmp_path.rglob("json/__init__.*.pyc")) != []  # the warm-up wrote bytecode there
    python = Path(sys.executable)
    assert module.commands(python)["demo"][-1] == "demo"
    assert module.commands(python)["help"][0] == str(python.parent / "hdra")  # the installed script
    canned: dict[str, object] = {"runs": 3, "loadavg_before": 0.5, "loadavg_after": 1.5}
    canned |= {name: {"p50_s": 0.5, "p99_s": 0.75, "cpu_s": 0.25} for name in module.commands(python)}
    demo_line = next(line for line in module.table(canned).splitlines() if line.startswith("hdra demo "))
    assert demo_line.split() == ["hdra", "demo", "0.50", "0.75", "0.25", "1.50"]
