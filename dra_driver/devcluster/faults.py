"""Fault injection for the dev cluster: make the next N matching requests fail, stall or vanish.

Owns: ``FaultRule`` (what to match and what to do) and ``FaultInjector`` (the thread-safe rule list
the handler consults once per request, before routing). A rule matches on the HTTP method (``"*"``
for any) and ``re.search`` of ``path_regex`` against the request target *including* its query
string, so ``r"watch=true"`` or ``r"resourceslices/"`` both work. Rules are consulted in the order
they were added; the first that matches and still has ``count`` left is used and its count drops
by one. It must never touch the store.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from dra_driver.devcluster.errors import ApiError

_REASONS = {
    400: ("BadRequest", "injected fault: bad request"),
    404: ("NotFound", "injected fault: not found"),
    409: (
        "Conflict",
        "injected fault: the object has been modified; please apply your changes to the latest version",
    ),
    410: ("Expired", "injected fault: too old resource version"),
    422: ("Invalid", "injected fault: invalid"),
    429: ("TooManyRequests", "injected fault: too many requests, please try again later"),
    500: (
        "InternalError",
        "injected fault: an error on the server has prevented the request from succeeding",
    ),
    503: ("ServiceUnavailable", "injected fault: the server is currently unable to handle the request"),
    504: ("Timeout", "injected fault: the server was unable to return a response in the time allotted"),
}


@dataclass
class FaultRule:
    """The next ``count`` requests matching ``method`` and ``path_regex`` are disturbed.

    * ``status`` set: answer that HTTP status with a Status body (``Retry-After`` and
      ``details.retryAfterSeconds`` when ``retry_after`` is set, as for 429).
    * ``drop_connection``: close the socket without answering.
    * ``delay_s``: sleep first; with ``status`` None the request is then served normally.
    """

    method: str = "*"
    path_regex: str = ""
    status: int | None = None
    count: int = 1
    retry_after: int | None = None
    delay_s: float = 0.0
    drop_connection: bool = False
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"FaultRule.count must be at least 1, got {self.count}")
        if self.status is None and not self.drop_connection and self.delay_s <= 0:
            raise ValueError("FaultRule does nothing: set status, drop_connection or a positive delay_s")
        self._pattern = re.compile(self.path_regex)

    def matches(self, method: str, target: str) -> bool:
        return (self.method in ("*", method.upper())) and self._pattern.search(target) is not None

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        reason, message = _REASONS.get(self.status, ("", f"injected fault: HTTP {self.status}"))
        return ApiError(self.status, reason, message, {}, self.retry_after)


class FaultInjector:
    """Thread-safe list of active fault rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[FaultRule]:
        """Rules that still have requests left to disturb."""
        with self._lock:
            return [rule for rule in self._rules if rule.hits < rule.count]

    def take(self, method: str, target: str) -> FaultRule | None:
        """The rule that applies to this request (consuming one of its count), if any."""
        with self._lock:
            for rule in self._rules:
                if rule.hits < rule.count and rule.matches(method, target):
                    rule.hits += 1
                    return rule
            return None
