"""Domain rules, each defined once (DESIGN §3): what every other layer agrees on.

Owns: the claim UID rule (``uids``), the capacity names, full cores and the whole-card rule
(``capacity``), the priority values (``priority``), the JSON input rule of the HTTP endpoints
(``json_input``) and who may use a claim HAMi-core enforces (``regions``: one PID namespace at a
time). It is the lowest layer: it imports nothing of ``dra_driver`` and nothing outside the
standard library, so every layer can use it. A rule that two
modules need goes here, never into either of them.
"""

from dra_driver.rules.capacity import (
    CAPACITY_NAMES,
    CORES,
    FULL_CORES,
    MEMORY,
    cores_unlimited,
    is_whole_card,
    memory_unlimited,
)
from dra_driver.rules.json_input import MAX_JSON_DEPTH, JsonInputError, load_json
from dra_driver.rules.priority import Priority
from dra_driver.rules.uids import claim_uid_problem, is_claim_uid

__all__ = [
    "CAPACITY_NAMES",
    "CORES",
    "FULL_CORES",
    "MAX_JSON_DEPTH",
    "MEMORY",
    "JsonInputError",
    "Priority",
    "claim_uid_problem",
    "cores_unlimited",
    "is_claim_uid",
    "is_whole_card",
    "load_json",
    "memory_unlimited",
]
