"""One-line error messages for exceptions that carry several lines (YAML parser errors above all).

Contract: ``one_line`` never raises and never returns an empty string; for a YAML error with a
position it says ``line L column C: <problem>`` (1-based, as editors count), which is what a user
needs to find the fault, instead of PyYAML's four-line block quoting an internal stream name; for
an OSError it says ``<strerror>: <file>`` without the errno number.
"""

from __future__ import annotations

import yaml


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or exc.context or "invalid YAML"
        return f"line {mark.line + 1} column {mark.column + 1}: {' '.join(problem.split())}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return f"byte {exc.start} is not {exc.encoding} (binary data?)"
    return " ".join(str(exc).split()) or type(exc).__name__
