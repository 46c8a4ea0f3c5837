"""Encoding the checkpoint file and decoding it with one named reason for each kind of corruption.

Owns: ``encode`` (one line of canonical JSON), ``decode`` and ``CorruptCheckpoint``. ``decode``
checks, in this order: JSON syntax, a top-level object, the format version, the checksum over the
claims as stored, then the schema; the first failure becomes ``CorruptCheckpoint.reason`` ("bad
JSON: …", "unsupported version …", "checksum mismatch …", "schema error: …"). It must never read
or write files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from dra_driver.checkpoint.models import (
    CHECKPOINT_VERSION,
    CheckpointEntry,
    CheckpointFile,
    canonical_json,
    checksum_of,
    claims_checksum,
    claims_json,
)


class CorruptCheckpoint(Exception):
    """The checkpoint file cannot be trusted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(claims: Mapping[str, CheckpointEntry], boot_id: str) -> bytes:
    """The file content for ``claims`` written in boot ``boot_id``."""
    return encode_plain(claims_json(claims), boot_id)


def encode_plain(plain: Mapping[str, Any], boot_id: str) -> bytes:
    """``encode`` of claims already in their plain JSON form: the claims are serialised once, in
    the canonical form the checksum is computed over (sorted keys, no spaces), and the file is that
    text inside the document object (keys sorted too), so writing costs one ``json.dumps``."""
    canonical = canonical_json(plain)
    document = (
        f'{{"boot_id":{json.dumps(boot_id)},"checksum":{json.dumps(checksum_of(canonical))},'
        f'"claims":{canonical},"version":{CHECKPOINT_VERSION}}}\n'
    )
    return document.encode()


def decode(raw: bytes) -> CheckpointFile:
    """The validated file, or ``CorruptCheckpoint`` naming the first problem found."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptCheckpoint(f"bad JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise CorruptCheckpoint(f"bad JSON: top level is a {type(document).__name__}, not an object")
    version = document.get("version")
    if version != CHECKPOINT_VERSION or isinstance(version, bool):
        raise CorruptCheckpoint(f"unsupported version {version!r} (this driver reads {CHECKPOINT_VERSION})")
    claims = document.get("claims")
    if not isinstance(claims, dict):
        raise CorruptCheckpoint(f"schema error: 'claims' is {type(claims).__name__}, not an object")
    stored = document.get("checksum")
    actual = claims_checksum(claims)
    if stored != actual:
        raise CorruptCheckpoint(f"checksum mismatch: file says {stored!r}, claims hash to {actual!r}")
    try:
        return CheckpointFile.model_validate(document)
    except ValidationError as exc:
        raise CorruptCheckpoint(f"schema error: {exc}") from exc
