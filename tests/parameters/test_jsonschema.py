"""The exported JSON schema and decode_config agree: what one accepts the other accepts.

Known, deliberate difference not tested here: JSON Schema counts 1.0 as an integer, while the
strict decoder (like Go's) rejects a fractional-looking number for logLevel.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from dra_driver.parameters import API_VERSION, KIND, ParameterError, decode_config
from dra_driver.parameters.schema import accelerator_config_schema

HEAD: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}

CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("minimal", HEAD, True),
    (
        "all fields",
        {**HEAD, "corePolicy": "force", "priority": "low", "enforcement": "none", "logLevel": 1},
        True,
    ),
    ("ascend extras", {**HEAD, "ascend": {"vnpuTemplate": "vir12_3c_32g"}}, True),
    ("null optional", {**HEAD, "priority": None}, True),
    ("unknown field", {**HEAD, "cores": 50}, False),
    ("string logLevel", {**HEAD, "logLevel": "1"}, False),
    ("bool logLevel", {**HEAD, "logLevel": False}, False),
    ("logLevel 5", {**HEAD, "logLevel": 5}, False),
    ("bad enum", {**HEAD, "corePolicy": "sometimes"}, False),
    ("bad template", {**HEAD, "ascend": {"vnpuTemplate": "vir01"}}, False),
    ("extra in ascend", {**HEAD, "ascend": {"vnpuTemplate": "vir05_1c_8g", "x": 1}}, False),
    ("wrong apiVersion", {"apiVersion": "hdra.io/v1", "kind": KIND}, False),
    ("missing kind", {"apiVersion": API_VERSION}, False),
]


@pytest.mark.parametrize(("parameters", "valid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_and_decoder_agree(parameters: dict[str, Any], valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(accelerator_config_schema())
    schema_errors = list(validator.iter_errors(parameters))
    try:
        decode_config(parameters, driver="ascend.hdra.io")
        decoded = True
    except ParameterError:
        decoded = False
    assert (not schema_errors) is valid, [e.message for e in schema_errors]
    assert decoded is valid


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(accelerator_config_schema())
