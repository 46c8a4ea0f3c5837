"""Failpoints: named places in prepare where a test can make the process die with SIGKILL.

Owns the crash-injection contract used by the crash tests (issue "kill the plugin at each step of a
prepare, then restart"): when the environment variable ``HDRA_FAILPOINTS`` lists a name
(comma-separated), reaching that point kills the current process at once, exactly as SIGKILL
would — no cleanup, no flush. It is read once at import; with the variable unset, a failpoint costs
one set lookup. It must never be set in production manifests.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "HDRA_FAILPOINTS"

AFTER_CHECKPOINT_STARTED = "prepare-after-checkpoint-started"
AFTER_CACHE_DIR = "prepare-after-cache-dir"
AFTER_CDI_SPEC = "prepare-after-cdi-spec"
AFTER_CHECKPOINT_COMPLETED = "prepare-after-checkpoint-completed"

PREPARE_STEPS = (AFTER_CHECKPOINT_STARTED, AFTER_CACHE_DIR, AFTER_CDI_SPEC, AFTER_CHECKPOINT_COMPLETED)

_ACTIVE = frozenset(name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip())


def failpoint(name: str) -> None:
    """Die here, by SIGKILL, if ``name`` is active."""
    if name in _ACTIVE:
        os.kill(os.getpid(), signal.SIGKILL)
