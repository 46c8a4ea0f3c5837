"""The checkpoint's append-only journal ``<state_dir>/checkpoint.journal``: one line per change.

Owns: ``journal_line`` (encoding one change) and ``read_journal`` (decoding the file). A line is
``sha256:<hex> <canonical JSON>\\n``; the JSON is ``{"boot_id": …, "put": <entry>}`` or
``{"boot_id": …, "remove": <uid>}``, the boot the change was written in. The checksum covers the
JSON text, so a line cut short by a killed write or a power loss fails it.

Reading stops at the first line that is incomplete or fails its checksum: everything after it is
a torn tail (a write whose caller never returned, or an unsynced write a power loss cut short), and
is reported as discarded bytes, never applied. A line whose checksum holds but whose content is not
a change of this schema is corruption (``CorruptCheckpoint``). It must never read or write files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dra_driver.checkpoint.codec import CorruptCheckpoint
from dra_driver.checkpoint.models import CheckpointEntry, canonical_json

_PREFIX = b"sha256:"
_DIGEST_HEX = 64


@dataclass(frozen=True)
class JournalChange:
    """One decoded line: ``entry`` recorded for ``uid`` (None: the claim was removed) in boot ``boot_id``."""

    uid: str
    entry: CheckpointEntry | None
    boot_id: str


@dataclass(frozen=True)
class JournalContent:
    """The changes of a journal in file order, and how many bytes of torn tail followed them."""

    changes: tuple[JournalChange, ...]
    discarded_bytes: int


def journal_line(uid: str, plain: Mapping[str, Any] | None, boot_id: str) -> bytes:
    """The line recording ``plain`` (an entry's plain JSON) for ``uid``; ``None`` records its removal."""
    body = canonical_json(
        {"boot_id": boot_id, "put": plain} if plain is not None else {"boot_id": boot_id, "remove": uid}
    )
    return b"%s%s %s\n" % (_PREFIX, hashlib.sha256(body.encode()).hexdigest().encode(), body.encode())


def read_journal(raw: bytes) -> JournalContent:
    """The changes in ``raw``, up to the first incomplete or checksum-failing line."""
    changes: list[JournalChange] = []
    position = 0
    number = 0
    while position < len(raw):
        end = raw.find(b"\n", position)
        if end < 0:
            break  # a line without its newline was cut short
        line = raw[position:end]
        number += 1
        head_end = len(_PREFIX) + _DIGEST_HEX
        if (
            len(line) <= head_end
            or not line.startswith(_PREFIX)
            or line[head_end : head_end + 1] != b" "
            or hashlib.sha256(line[head_end + 1 :]).hexdigest().encode() != line[len(_PREFIX) : head_end]
        ):
            break
        changes.append(_change(line[head_end + 1 :], number))
        position = end + 1
    return JournalContent(tuple(changes), len(raw) - position)


def _change(body: bytes, number: int) -> JournalChange:
    where = f"journal line {number}"
    try:
        record = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptCheckpoint(f"bad JSON: {where}: {exc}") from exc
    if not isinstance(record, dict) or not isinstance(record.get("boot_id"), str):
        raise CorruptCheckpoint(f"schema error: {where} is not a change with a boot_id")
    boot_id: str = record["boot_id"]
    if set(record) == {"boot_id", "remove"} and isinstance(record["remove"], str):
        return JournalChange(record["remove"], None, boot_id)
    if set(record) != {"boot_id", "put"}:
        raise CorruptCheckpoint(
            f"schema error: {where} has keys {sorted(record)}, not boot_id and put or remove"
        )
    try:
        entry = CheckpointEntry.model_validate(record["put"])
    except ValidationError as exc:
        raise CorruptCheckpoint(f"schema error: {where}: {exc}") from exc
    return JournalChange(entry.uid, entry, boot_id)
