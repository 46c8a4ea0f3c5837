"""Per-device checks that do not depend on what is being allocated: selectors and taints.

Owns: ``Rejection`` (why a device is ruled out, with numbers for explain) and ``DeviceFilter``
(class selectors AND request selectors, then taints, with a cache of selector results per
(expression, device)), plus ``claim_problems`` (claim-level errors found before any device is
looked at: unknown class, refused selector, adminAccess without the namespace label).
This module must never track usage or choose devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dra_driver.sim.cel_env import CelEngine, Match
from dra_driver.sim.errors import CelError
from dra_driver.sim.inventory import DeviceEntry
from dra_driver.sim.requests import ADMIN_ACCESS_LABEL, Alternative, ClaimSpec, DeviceClassInfo
from dra_driver.sim.taints import blocking_taint, describe_taint


@dataclass(frozen=True)
class Rejection:
    """The first reason a device cannot serve a request; ``kind`` groups reasons for summaries."""

    kind: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


class DeviceFilter:
    """Selector and taint checks with cached selector results (valid while devices are unchanged)."""

    def __init__(self, engine: CelEngine, classes: Mapping[str, DeviceClassInfo]) -> None:
        self.engine = engine
        self.classes = classes
        self._matches: dict[tuple[str, DeviceEntry], Match] = {}

    def match(self, expression: str, device: DeviceEntry) -> Match:
        key = (expression, device)
        found = self._matches.get(key)
        if found is None:
            found = self.engine.evaluate(self.engine.compile(expression), device.cel)
            self._matches[key] = found
        return found

    def selectors(self, alternative: Alternative, device: DeviceEntry) -> Rejection | None:
        """The first class or request selector that ``device`` fails (or errors on), or None."""
        device_class = self.classes.get(alternative.class_name)
        if device_class is None:
            return Rejection("class", f"device class {alternative.class_name!r} does not exist")
        sources = [(f"class {device_class.name}", i, e) for i, e in enumerate(device_class.selectors)]
        sources += [(f"request {alternative.result_name}", i, e) for i, e in enumerate(alternative.selectors)]
        for source, index, expression in sources:
            try:
                match = self.match(expression, device)
            except CelError as exc:
                return Rejection(
                    "selector",
                    f"{source} selector #{index} is refused: {exc.reason}",
                    {"expression": expression},
                )
            if match.error is not None:
                return Rejection(
                    "selector",
                    f"{source} selector #{index} `{expression}` failed: {match.error}",
                    {"source": source, "index": index, "expression": expression, "error": match.error},
                )
            if not match.matched:
                return Rejection(
                    "selector",
                    f"{source} selector #{index} `{expression}` is false",
                    {"source": source, "index": index, "expression": expression},
                )
        return None

    def static(self, alternative: Alternative, device: DeviceEntry) -> Rejection | None:
        """Selectors, then taints: everything that does not change while allocating."""
        rejection = self.selectors(alternative, device)
        if rejection is not None:
            return rejection
        taint = blocking_taint(device.taints, alternative.tolerations)
        if taint is not None:
            return Rejection(
                "taint",
                f"taint {describe_taint(taint)} is not tolerated",
                {"taint": dict(taint)},
            )
        return None


def claim_problems(
    claim: ClaimSpec,
    engine: CelEngine,
    classes: Mapping[str, DeviceClassInfo],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """Errors that make ``claim`` unallocatable on every node, each naming the request and cause."""
    problems = []
    for request in claim.requests:
        for alternative in request.alternatives:
            where = f"claim {claim.key} request {alternative.result_name}"
            device_class = classes.get(alternative.class_name)
            if device_class is None:
                problems.append(
                    f"claim {claim.key}, request {alternative.sub or alternative.request}: "
                    "could not retrieve "
                    f"device class {alternative.class_name}: deviceclasses.resource.k8s.io "
                    f'"{alternative.class_name}" not found'
                )
                continue
            for source, expressions in (
                (f"class {device_class.name}", device_class.selectors),
                ("request", alternative.selectors),
            ):
                for index, expression in enumerate(expressions):
                    try:
                        engine.compile(expression)
                    except CelError as exc:
                        problems.append(f"{where}: {source} selector #{index} is refused: {exc}")
            if alternative.admin_access:
                labels = namespace_labels.get(claim.namespace, {})
                if labels.get(ADMIN_ACCESS_LABEL) != "true":
                    problems.append(
                        f"{where}: adminAccess needs namespace {claim.namespace!r} to carry the label "
                        f'{ADMIN_ACCESS_LABEL}: "true"'
                    )
    return problems
