"""Text and JSON renderings of an ``Explanation``, and the plain table helper they use.

Owns: ``render_explanation`` and ``text_table``. This module must never compute verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dra_driver.sim.explain import Explanation
from dra_driver.sim.placement import with_ties

_STATUS = {
    "allocated": "ALLOCATED",
    "allocatable": "ALLOCATABLE",
    "pending": "PENDING",
}


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a rule under the header."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def render_explanation(explanation: Explanation, fmt: str = "text") -> str:
    """``fmt`` is ``text`` (a readable report with one table per request) or ``json``."""
    if fmt == "json":
        return json.dumps(explanation.to_dict(), indent=2, sort_keys=False)
    if fmt != "text":
        raise ValueError(f"unknown explanation format {fmt!r}; use text or json")
    e = explanation
    lines = [f"Claim {e.claim}: {_STATUS.get(e.status, e.status)}"]
    if e.status == "allocated":
        lines.append(f"  allocated on node {e.node}: " + "; ".join(e.devices))
    elif e.status == "allocatable":
        node = with_ties(str(e.node), [tie.node for tie in e.ties])
        lines.append(f"  would be allocated on node {node}: " + "; ".join(e.devices))
        lines.extend(f"  or on node {tie.node}: " + "; ".join(tie.devices) for tie in e.ties)
    lines.extend(f"  note: {note}" for note in e.notes)
    lines.extend(f"  error: {error}" for error in e.errors)
    for request in e.requests:
        summary = [f"class {request.device_class}", request.mode]
        if request.capacity:
            summary.append("capacity " + ", ".join(f"{k}={v}" for k, v in request.capacity.items()))
        if request.admin_access:
            summary.append("adminAccess")
        lines.append("")
        counts = f"{request.usable} of {request.total} devices usable"
        lines.append(f"Request {request.request} ({'; '.join(summary)}): {counts}")
        lines.extend(f"  selector: {selector}" for selector in request.selectors)
        rows = [
            (v.node, f"{v.pool}/{v.device}", "usable" if v.usable else (v.reason or v.kind or "not usable"))
            for v in request.devices
        ]
        if rows:
            lines.extend("  " + row for row in text_table(("NODE", "DEVICE", "RESULT"), rows).splitlines())
    if e.pending:
        lines.append("")
        lines.append("Why no node can take it:")
        for node, reasons in e.pending.items():
            lines.extend(f"  {node}: {reason}" for reason in reasons)
    return "\n".join(lines) + "\n"
