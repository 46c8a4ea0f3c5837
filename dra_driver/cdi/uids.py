"""Validation of claim UIDs before they become parts of file names and paths.

Owns: ``validate_claim_uid``. A claim UID names a CDI spec file, a cache directory and a
checkpoint entry, so it must be exactly a Kubernetes UID (a lowercase RFC 4122 UUID string):
anything else (``../x``, ``a/b``, an empty string, upper case) is rejected with an error that
shows the value. It must never normalise or repair a UID: two spellings of one claim would
otherwise name two files.
"""

from __future__ import annotations

import re

from dra_driver.cdi.errors import CdiError

# Kubernetes writes UIDs with uuid.NewUUID().String(): 8-4-4-4-12 lowercase hex.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_claim_uid(value: str) -> bool:
    """Whether ``value`` is a canonical lowercase UUID string."""
    return _UUID.fullmatch(value) is not None


def validate_claim_uid(value: str, what: str = "claim UID") -> str:
    """Return ``value`` unchanged if it is a canonical UUID, else raise ``CdiError`` naming it."""
    if not isinstance(value, str) or not is_claim_uid(value):
        raise CdiError(f"{what} {value!r} is not a UUID (expected 8-4-4-4-12 lowercase hex digits)")
    return value
