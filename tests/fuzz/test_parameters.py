"""Fuzz AcceleratorConfig parameters: decode_config returns a config or raises ParameterError whose
message starts with a field path under the given base path; nothing else ever escapes."""

# ruff: noqa: PT017 - a fuzzed input may legitimately succeed or fail, so the error is checked in place

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dra_driver.parameters import (
    API_VERSION,
    HDRA_DRIVERS,
    KIND,
    AcceleratorConfig,
    ParameterError,
    decode_config,
)
from tests.fuzz.profile import FUZZ

BASE = "spec.devices.config[3].opaque.parameters"
FIELDS = ["apiVersion", "kind", "corePolicy", "priority", "enforcement", "logLevel", "ascend", "nvidia", "x"]
WORDS = ["default", "force", "disable", "high", "low", "auto", "none", "vir10_3c_32g", API_VERSION, KIND, ""]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["vnpuTemplate", *FIELDS]), inner, max_size=3),
    ),
    max_leaves=8,
)
config_object = st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=6)


def _text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, allow_nan=True)


parameters = st.one_of(
    config_object,
    config_object.map(_text),
    config_object.map(lambda obj: _text(obj).encode()),
    # Raw text and bytes: truncated JSON, duplicate keys, invalid UTF-8, non-objects.
    st.text(max_size=60),
    st.binary(max_size=60),
    config_object.map(lambda obj: _text(obj)[: max(0, len(_text(obj)) - 3)]),
    st.just('{"apiVersion": "hdra.io/v1alpha1", "kind": "AcceleratorConfig", "kind": "AcceleratorConfig"}'),
    st.lists(json_value, max_size=3).map(json.dumps),
)


@FUZZ
@given(parameters=parameters, driver=st.sampled_from(sorted(HDRA_DRIVERS)))
def test_decode_config_returns_a_config_or_names_the_field(parameters: Any, driver: str) -> None:
    try:
        config = decode_config(parameters, driver=driver, path=BASE)
    except ParameterError as exc:
        message = str(exc)
        assert message.startswith(BASE), message
        assert exc.field.startswith(BASE)
        assert exc.reason.strip(), f"empty reason for {exc.field}"
        return
    assert isinstance(config, AcceleratorConfig)
    # A decoded config round-trips through its canonical form unchanged.
    assert decode_config(config.model_dump(by_alias=True), driver=driver, path=BASE) == config


@FUZZ
@given(value=json_value, field=st.sampled_from(FIELDS[2:]), driver=st.sampled_from(sorted(HDRA_DRIVERS)))
def test_one_bad_field_is_named_in_the_error(value: Any, field: str, driver: str) -> None:
    obj = {"apiVersion": API_VERSION, "kind": KIND, field: value}
    try:
        decode_config(obj, driver=driver, path=BASE)
    except ParameterError as exc:
        assert exc.field.startswith(f"{BASE}.{field}"), f"the error does not name {field}: {exc}"
