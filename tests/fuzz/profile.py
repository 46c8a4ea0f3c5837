"""The hypothesis settings every fuzz test uses: modest, deterministic, no per-example deadline.

Owns: ``FUZZ`` (and ``fuzz(n)`` for a test that needs fewer examples). Derandomized so CI runs the
same examples every time on a 2-core machine; must never enable a database or a deadline (a slow
CI core is not a bug).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FUZZ = fuzz(80)
