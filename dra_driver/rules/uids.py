"""The claim UID rule: a claim UID is exactly a Kubernetes UID, a lowercase RFC 4122 UUID string.

A UID names a CDI spec file, a cache directory, a vDCU directory and a checkpoint entry, so every
layer (prepare, cdi, interception, checkpoint) must accept exactly the same spellings: anything else
(``../x``, ``a/b``, empty, upper case, braces, no dashes) is refused, never normalised, because two
spellings of one claim would name two files. Kubernetes writes UIDs with
``uuid.NewUUID().String()`` (apimachinery pkg/util/uuid), which is lowercase 8-4-4-4-12 hex.
"""

from __future__ import annotations

import re

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_claim_uid(value: object) -> bool:
    """Whether ``value`` is a canonical lowercase UUID string."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def claim_uid_problem(value: object) -> str | None:
    """None for a valid claim UID, else the reason (one phrase showing the value)."""
    if is_claim_uid(value):
        return None
    return f"{value!r} is not a UUID (expected 8-4-4-4-12 lowercase hex digits)"
