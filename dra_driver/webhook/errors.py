"""``Denial``: the one exception that turns into an admission denial with the caller's message.

Owns the contract that a denial's message names the object, the field and the offending value;
the code is the HTTP-style status put into the AdmissionResponse (400 bad input, 403 a policy the
input breaks, 500 a failure of the webhook or the API behind it). It must never carry a
traceback or a Python repr of internal state to the user.
"""

from __future__ import annotations

BAD_INPUT = 400
FORBIDDEN = 403
INTERNAL = 500


class Denial(Exception):
    """Deny the admission request with ``message`` (shown to the user by the API server)."""

    def __init__(self, message: str, code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
