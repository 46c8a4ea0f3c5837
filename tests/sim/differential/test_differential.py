"""hdra's allocator against kube-scheduler's (the alloc-oracle): outcomes and devices must agree.

Profiles (``HDRA_DIFF_PROFILE``): ``ci`` (default, 3000 derandomized cases, part of ``make
test``) and ``long`` (``make sim-long``: 10,000 cases). One oracle process answers the whole
session. A missing Go toolchain or a failed oracle build fails the test with the cause.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.sim.differential.compare import disagreement, hdra_answer, oracle_case
from tests.sim.differential.strategies import cases
from tests.support.oracle import Oracle

PROFILES = {"ci": 3000, "long": 10_000}
PROFILE = os.environ.get("HDRA_DIFF_PROFILE", "ci")
EXAMPLES = PROFILES[PROFILE]
COUNT: dict[str, Any] = {"cases": 0, "disagreements": 0, "outcomes": {}}


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as started:
        yield started
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(COUNT["outcomes"].items()))
    print(
        f"\ndifferential profile {PROFILE}: {COUNT['cases']} cases, {COUNT['disagreements']} disagreement(s) "
        f"({outcomes})"
    )


@pytest.mark.timeout(3600)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(case=cases())
def test_hdra_agrees_with_kube_scheduler(oracle: Oracle, case: dict[str, Any]) -> None:
    COUNT["cases"] += 1
    (theirs,) = oracle.ask([oracle_case(case, str(COUNT["cases"]))])
    ours = hdra_answer(case)
    outcomes: dict[str, int] = COUNT["outcomes"]
    outcomes[theirs["outcome"]] = outcomes.get(theirs["outcome"], 0) + 1
    problem = disagreement(theirs, ours)
    COUNT["disagreements"] += problem is not None
    assert problem is None, f"{problem}\nchannel {theirs.get('channel')}, gates {case['gates'].describe()}"
