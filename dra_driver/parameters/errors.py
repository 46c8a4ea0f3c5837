"""``ParameterError`` and the translation of pydantic errors into field-path messages.

Owns: the one exception type the parameters package raises for bad input, and the rule that
every message begins with the full field path of its cause (``spec.devices.config[0].opaque.
parameters.logLevel: ...``) so a user reading a webhook denial or a prepare failure can find the
offending field in their YAML. It must never swallow an error or report one without its path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

_MAX_SHOWN = 80
"""Offending values longer than this (as JSON) are cut in messages, so a 10 KiB blob stays readable."""

# Errors whose input is not worth echoing: a missing field has none, and an unknown field's value
# says nothing about what is wrong with it.
_NO_INPUT_ECHO = frozenset({"missing", "extra_forbidden"})


class ParameterError(ValueError):
    """Bad opaque parameters. ``field`` is the path of the (first) offending field.

    ``details`` holds every ``(field, reason)`` pair found; the message is
    ``"<field>: <reason>"`` for each, joined by ``"; "``, so it always begins with ``field``.
    """

    def __init__(self, field: str, reason: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.reason = reason
        self.details: tuple[tuple[str, str], ...] = ((field, reason), *more)
        super().__init__("; ".join(f"{path}: {why}" for path, why in self.details))


def join_path(base: str, loc: Iterable[int | str]) -> str:
    """``base`` extended by a pydantic location: names as ``.name``, list indices as ``[i]``."""
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def describe_value(value: Any) -> str:
    """A short rendering of an offending JSON value for a message (JSON syntax, truncated)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def from_validation_error(error: ValidationError, base: str) -> ParameterError:
    """One ``ParameterError`` carrying every error of ``error``, each under ``base``."""
    found: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        reason = item["msg"]
        if item["type"] not in _NO_INPUT_ECHO:
            reason += f" (got {describe_value(item['input'])})"
        found.append((join_path(base, item["loc"]), reason))
    (field, reason), *more = found
    return ParameterError(field, reason, more=more)
