"""Validation of claim UIDs before they become parts of file names and paths.

Owns: ``validate_claim_uid``, the CDI layer's use of the one claim UID rule
(``dra_driver.rules.uids``): anything that is not a lowercase UUID is refused with a ``CdiError``
that shows the value, never normalised or repaired.
"""

from __future__ import annotations

from dra_driver.cdi.errors import CdiError
from dra_driver.rules import claim_uid_problem, is_claim_uid

__all__ = ["is_claim_uid", "validate_claim_uid"]


def validate_claim_uid(value: str, what: str = "claim UID") -> str:
    """Return ``value`` unchanged if it is a canonical UUID, else raise ``CdiError`` naming it."""
    problem = claim_uid_problem(value)
    if problem is not None:
        raise CdiError(f"{what} {problem}")
    return value
