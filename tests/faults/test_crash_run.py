"""Crash run in CI (issue 9 point 2): 300 random operations over 4 real node plugin processes, then
no leaked CDI spec, cache dir or checkpoint entry, every prepared claim agrees with the API, and
every node's slices are back. The engine is ``benchmarks/crash_run.py`` (3,000 operations there).

The seed is random per run and printed on failure; ``HDRA_CRASH_SEED=<n>`` replays a run.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "benchmarks" / "crash_run.py"
OPS = 300


def load_engine() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hdra_benchmark_crash_run", ENGINE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_random_crash_run_loses_and_leaks_nothing(tmp_path: Path) -> None:
    engine = load_engine()
    seed = int(os.environ.get("HDRA_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash run seed: {seed} (replay with HDRA_CRASH_SEED={seed})")
    with engine.CrashRun(tmp_path, seed) as crash:
        try:
            for _ in range(OPS):
                crash.step()
            crash.finish()
            final = crash.check()
        except engine.CrashRunError:
            raise
        except Exception as exc:  # anything else still has to name the seed that produced it
            pytest.fail(f"crash run seed={seed} after {crash.counts.ops} ops: {exc!r}")
        counts = crash.counts
        assert final["leaks"] == 0
        assert counts.ops == OPS
        # The run really crashed things (the engine kills after at most 100 operations without a
        # kill, a few more when it first picks dead nodes), and every kill was followed by a
        # restart (finish() restarts the last ones).
        assert counts.kills >= OPS // engine.MAX_OPS_WITHOUT_KILL - 1, f"seed={seed}: {counts}"
        assert counts.restarts == counts.kills, f"seed={seed}: {counts}"
        assert counts.prepares > 0 and counts.unprepares > 0 and counts.kubelet_restarts > 0
