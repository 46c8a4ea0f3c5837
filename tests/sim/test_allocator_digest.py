"""The allocator's results stay what they were before its caches and memos (issue 17 item 4).

The digests below were computed with the allocator as it was before ``memo.py``, the demand cache
and the lazy reasons existed (commit e94ffb9), by ``benchmarks/allocator.py``'s own workloads and
digest: every outcome in claim order, with the node, each claim's allocation (devices, consumed
capacity, share IDs from the seeded factory) or, for a pending claim, its full diagnostic text —
read only after all claims were placed, so lazily built reasons must describe the state of their
own claim. The mixed workload fills its 10 nodes, so it covers exhausted capacity, a partitions
node (counters), two-card and whole-card claims, CEL selectors and claims that fit nowhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.benchmarks.test_benchmarks_run import load

ALLOCATOR = load("allocator")

ONE_CARD = {  # 10 nodes, 300 one-card claims
    None: "f07a42d4c1387d7e",
    "binpack": "f07a42d4c1387d7e",
    "spread": "84d6e6ccc7cfe1fa",
}
MIX = {  # 10 nodes (one in partitions mode), 700 mixed claims, pending reasons included
    None: "f8923d36225ace50",
    "binpack": "95e3af064457f065",
    "spread": "058b7af9c6221fee",
}


def _run(workload: str, claims: int, policy: str | None) -> dict[str, Any]:
    if workload == "one-card":
        slices = ALLOCATOR.node_slices(10)
        made = [ALLOCATOR.one_card_claim(i) for i in range(claims)]
    else:
        slices = ALLOCATOR.node_slices(10, prefix="mix", partitions_every=10)
        made = [ALLOCATOR.mixed_claim(i) for i in range(claims)]
    result: dict[str, Any] = ALLOCATOR.allocate(slices, made, policy, messages=True)
    return result


@pytest.mark.parametrize("policy", list(ONE_CARD))
def test_one_card_workload_places_as_before(policy: str | None) -> None:
    result = _run("one-card", 300, policy)
    assert result["placed"] == 300
    assert result["digest"] == ONE_CARD[policy]


@pytest.mark.parametrize("policy", list(MIX))
def test_mixed_workload_places_and_explains_as_before(policy: str | None) -> None:
    result = _run("mix", 700, policy)
    assert 0 < result["pending"] < 700
    assert result["digest"] == MIX[policy]
