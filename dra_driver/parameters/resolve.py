"""Which ``AcceleratorConfig`` applies to which request of a claim (DESIGN §6, dra-api.md §1.5).

Owns: ``OpaqueConfigEntry`` (one opaque config as found in a claim's spec or allocation result,
without the Kubernetes client's types) and ``resolve_request_configs``. The rule is the one the
upstream example driver uses: entries of other drivers are skipped; class entries apply first,
then claim entries, each group in its given order; for each request the last entry whose
``requests`` is empty or names the request (or, for ``<req>/<sub>``, its parent ``<req>``) wins;
a request no entry names gets the default config. Every entry of this driver is decoded, also one
that ends up overridden, so a bad config never slips through because a later one won.
It must never read Kubernetes objects or decide anything about devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from .decode import decode_config
from .drivers import vendor_of
from .model import DEFAULT_CONFIG, AcceleratorConfig

ConfigSource = Literal["FromClass", "FromClaim"]
SOURCES: Final[tuple[ConfigSource, ...]] = ("FromClass", "FromClaim")
"""Allowed ``source`` values, in the order their entries apply."""


@dataclass(frozen=True)
class OpaqueConfigEntry:
    """One opaque config: where it came from, which requests it names (empty: all), the driver it
    is for, its raw ``parameters`` and the path of those parameters for messages.

    ``requests`` may be given as any iterable of names; it is stored as a tuple.
    """

    source: ConfigSource
    requests: tuple[str, ...]
    driver: str
    parameters: Any
    path: str = "parameters"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"{self.path}: config source {self.source!r} is not one of {', '.join(SOURCES)}")
        if isinstance(self.requests, str):  # a bare name would otherwise become its characters
            raise TypeError(
                f"{self.path}: requests must be a sequence of names, got the string {self.requests!r}"
            )
        object.__setattr__(self, "requests", tuple(self.requests))

    def applies_to(self, request: str) -> bool:
        """Whether this entry names ``request``: all requests when empty, else the name itself or,
        for a subrequest ``<req>/<sub>``, its parent ``<req>`` (which covers all its subrequests)."""
        if not self.requests:
            return True
        parent = request.split("/", 1)[0]
        return request in self.requests or parent in self.requests


def resolve_request_configs(
    configs: Sequence[OpaqueConfigEntry], *, driver: str, request_names: Iterable[str]
) -> dict[str, AcceleratorConfig]:
    """The effective config of each request in ``request_names`` for ``driver``.

    Raises ``ParameterError`` (message starting with the entry's path) for the first entry of
    ``driver`` whose parameters do not decode, and ``ValueError`` if ``driver`` is not ours.
    """
    vendor_of(driver)  # fail on a foreign driver name before anything else
    ordered = sorted(
        (entry for entry in configs if entry.driver == driver), key=lambda e: SOURCES.index(e.source)
    )
    decoded = [(entry, decode_config(entry.parameters, driver=driver, path=entry.path)) for entry in ordered]
    resolved: dict[str, AcceleratorConfig] = {}
    for request in request_names:
        winner = DEFAULT_CONFIG
        for entry, config in decoded:
            if entry.applies_to(request):
                winner = config
        resolved[request] = winner
    return resolved
