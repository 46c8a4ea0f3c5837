"""The one exception of the real-cluster launcher.

Owns: ``RealClusterError``, raised with a one-line message naming the cause (a binary that is
not built and why, a component that exited during start-up with the tail of its log, a readiness
wait that ran out). Callers print it as it is; it must never wrap a traceback into its text.
"""

from __future__ import annotations


class RealClusterError(Exception):
    """The real control plane cannot be built, started or used; the message names why."""
