"""The node plugin's crash-safe record of prepared claims (DESIGN §9).

Public surface: ``CheckpointStore`` (``load`` → ``LoadReport``, ``get``, ``entries``, ``put``,
``remove``, ``path``), ``read_claims`` (reads without writing), the models ``ClaimState``,
``CheckpointEntry``, ``CheckpointDevice``, ``CheckpointFile``, and ``CheckpointError``. Must never
import ``dra_driver.prepare`` or anything above it.
"""

from dra_driver.checkpoint.codec import CorruptCheckpoint, decode, encode
from dra_driver.checkpoint.models import (
    CHECKPOINT_VERSION,
    CheckpointDevice,
    CheckpointEntry,
    CheckpointFile,
    CheckpointUnits,
    ClaimState,
    claims_checksum,
)
from dra_driver.checkpoint.store import (
    CHECKPOINT_NAME,
    JOURNAL_NAME,
    CheckpointError,
    CheckpointStore,
    LoadReport,
    read_claims,
)

__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "JOURNAL_NAME",
    "CheckpointDevice",
    "CheckpointEntry",
    "CheckpointError",
    "CheckpointFile",
    "CheckpointStore",
    "CheckpointUnits",
    "ClaimState",
    "CorruptCheckpoint",
    "LoadReport",
    "claims_checksum",
    "decode",
    "encode",
    "read_claims",
]
