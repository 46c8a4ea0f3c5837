"""decode_config: valid configs normalise to the canonical object; every invalid one is rejected
with a ParameterError whose message begins with the offending field's full path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dra_driver.parameters import (
    API_VERSION,
    HDRA_DRIVERS,
    KIND,
    MAX_PARAMETERS_BYTES,
    AcceleratorConfig,
    AscendVnpuTemplate,
    CorePolicy,
    Enforcement,
    ParameterError,
    Priority,
    decode_config,
    is_hdra_driver,
)

CLAIM_PATH = "spec.devices.config[0].opaque.parameters"
HEAD: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}
CANONICAL_DEFAULT = {**HEAD, "corePolicy": "default", "enforcement": "auto"}


def cfg(**fields: Any) -> dict[str, Any]:
    return {**HEAD, **fields}


VALID: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("minimal", "nvidia.hdra.io", cfg(), CANONICAL_DEFAULT),
    (
        "all common fields",
        "nvidia.hdra.io",
        cfg(corePolicy="force", priority="high", enforcement="none", logLevel=4),
        {**HEAD, "corePolicy": "force", "priority": "high", "enforcement": "none", "logLevel": 4},
    ),
    ("logLevel 0", "amd.hdra.io", cfg(logLevel=0), {**CANONICAL_DEFAULT, "logLevel": 0}),
    ("nulls mean absent", "mock.hdra.io", cfg(priority=None, logLevel=None, ascend=None), CANONICAL_DEFAULT),
    (
        "ascend extras on the ascend driver",
        "ascend.hdra.io",
        cfg(corePolicy="disable", ascend={"vnpuTemplate": "vir10_3c_32g"}),
        {**CANONICAL_DEFAULT, "corePolicy": "disable", "ascend": {"vnpuTemplate": "vir10_3c_32g"}},
    ),
    ("json text", "hygon.hdra.io", json.dumps(cfg(priority="low")), {**CANONICAL_DEFAULT, "priority": "low"}),
    (
        "json bytes",
        "cambricon.hdra.io",
        json.dumps(cfg(logLevel=2)).encode(),
        {**CANONICAL_DEFAULT, "logLevel": 2},
    ),
]


@pytest.mark.parametrize(
    ("driver", "parameters", "canonical"), [v[1:] for v in VALID], ids=[v[0] for v in VALID]
)
def test_valid_configs_normalise(driver: str, parameters: Any, canonical: dict[str, Any]) -> None:
    config = decode_config(parameters, driver=driver, path=CLAIM_PATH)
    dumped = config.model_dump(by_alias=True)
    assert dumped == canonical
    # The canonical object is plain JSON (enum members are dumped as str) and decodes to itself.
    assert json.loads(json.dumps(dumped)) == dumped
    assert all(type(v) is not CorePolicy for v in dumped.values())
    assert decode_config(dumped, driver=driver) == config


def test_typed_fields_after_decoding() -> None:
    config = decode_config(
        cfg(
            corePolicy="force",
            priority="high",
            enforcement="none",
            logLevel=3,
            ascend={"vnpuTemplate": "vir05_1c_8g"},
        ),
        driver="ascend.hdra.io",
    )
    assert config.core_policy is CorePolicy.FORCE
    assert config.priority is Priority.HIGH
    assert config.enforcement is Enforcement.NONE
    assert config.log_level == 3
    assert config.ascend is not None
    assert config.ascend.vnpu_template is AscendVnpuTemplate.VIR05_1C_8G
    assert config.vendor_sections() == ("ascend",)
    assert AcceleratorConfig().vendor_sections() == ()


def test_priority_maps_to_hami_core_task_priority() -> None:
    # hami.md 2.2: CUDA_TASK_PRIORITY, a lower number is a higher priority (HAMi: 0 high, 1 low).
    assert Priority.HIGH.cuda_task_priority == 0
    assert Priority.LOW.cuda_task_priority == 1


def test_every_driver_accepts_the_minimal_config() -> None:
    for driver in HDRA_DRIVERS:
        assert decode_config(cfg(), driver=driver).model_dump(by_alias=True) == CANONICAL_DEFAULT


INVALID: list[tuple[str, str, Any, str, str]] = [
    # (id, driver, parameters, expected field, expected words in the message)
    (
        "unknown field",
        "nvidia.hdra.io",
        cfg(gpuCores=50),
        f"{CLAIM_PATH}.gpuCores",
        "Extra inputs are not permitted",
    ),
    (
        "python name is not an alias",
        "nvidia.hdra.io",
        cfg(log_level=1),
        f"{CLAIM_PATH}.log_level",
        "Extra inputs are not permitted",
    ),
    (
        "string for logLevel",
        "nvidia.hdra.io",
        cfg(logLevel="1"),
        f"{CLAIM_PATH}.logLevel",
        'valid integer (got "1")',
    ),
    (
        "bool for logLevel",
        "nvidia.hdra.io",
        cfg(logLevel=True),
        f"{CLAIM_PATH}.logLevel",
        "valid integer (got true)",
    ),
    ("float for logLevel", "nvidia.hdra.io", cfg(logLevel=1.5), f"{CLAIM_PATH}.logLevel", "valid integer"),
    (
        "logLevel too high",
        "nvidia.hdra.io",
        cfg(logLevel=5),
        f"{CLAIM_PATH}.logLevel",
        "less than or equal to 4",
    ),
    (
        "logLevel negative",
        "nvidia.hdra.io",
        cfg(logLevel=-1),
        f"{CLAIM_PATH}.logLevel",
        "greater than or equal to 0",
    ),
    (
        "bad corePolicy",
        "nvidia.hdra.io",
        cfg(corePolicy="FORCE"),
        f"{CLAIM_PATH}.corePolicy",
        "'default', 'force' or 'disable' (got \"FORCE\")",
    ),
    ("bad priority", "nvidia.hdra.io", cfg(priority="urgent"), f"{CLAIM_PATH}.priority", "'high' or 'low'"),
    (
        "number for priority",
        "nvidia.hdra.io",
        cfg(priority=0),
        f"{CLAIM_PATH}.priority",
        "'high' or 'low' (got 0)",
    ),
    (
        "bad enforcement",
        "nvidia.hdra.io",
        cfg(enforcement="off"),
        f"{CLAIM_PATH}.enforcement",
        "'auto' or 'none'",
    ),
    (
        "ascend extras on nvidia",
        "nvidia.hdra.io",
        cfg(ascend={"vnpuTemplate": "vir05_1c_8g"}),
        f"{CLAIM_PATH}.ascend",
        "accepted only by driver ascend.hdra.io, not by nvidia.hdra.io",
    ),
    (
        "ascend extras on mock",
        "mock.hdra.io",
        cfg(ascend={"vnpuTemplate": "vir05_1c_8g"}),
        f"{CLAIM_PATH}.ascend",
        "not by mock.hdra.io",
    ),
    (
        "vendor without extras",
        "hygon.hdra.io",
        cfg(hygon={"cuMask": "0xff"}),
        f"{CLAIM_PATH}.hygon",
        "has no hygon extras; vendor extras exist for: ascend",
    ),
    (
        "unknown vnpu template",
        "ascend.hdra.io",
        cfg(ascend={"vnpuTemplate": "vir02"}),
        f"{CLAIM_PATH}.ascend.vnpuTemplate",
        "'vir03_1c_8g'",
    ),
    (
        "missing vnpu template",
        "ascend.hdra.io",
        cfg(ascend={}),
        f"{CLAIM_PATH}.ascend.vnpuTemplate",
        "Field required",
    ),
    (
        "unknown ascend field",
        "ascend.hdra.io",
        cfg(ascend={"vnpuTemplate": "vir05_1c_8g", "strategy": "TimeSlicing"}),
        f"{CLAIM_PATH}.ascend.strategy",
        "Extra inputs are not permitted",
    ),
    (
        "ascend not an object",
        "ascend.hdra.io",
        cfg(ascend="vir05_1c_8g"),
        f"{CLAIM_PATH}.ascend",
        "should be an object",
    ),
    (
        "wrong apiVersion",
        "nvidia.hdra.io",
        {"apiVersion": "resource.nvidia.com/v1beta1", "kind": KIND},
        f"{CLAIM_PATH}.apiVersion",
        'unsupported apiVersion "resource.nvidia.com/v1beta1"; hdra supports apiVersion hdra.io/v1alpha1 '
        "with kind AcceleratorConfig",
    ),
    (
        "missing apiVersion",
        "nvidia.hdra.io",
        {"kind": KIND},
        f"{CLAIM_PATH}.apiVersion",
        "field required; hdra supports",
    ),
    (
        "wrong kind",
        "nvidia.hdra.io",
        {"apiVersion": API_VERSION, "kind": "GpuConfig"},
        f"{CLAIM_PATH}.kind",
        'unsupported kind "GpuConfig"; hdra supports apiVersion hdra.io/v1alpha1 with kind AcceleratorConfig',
    ),
    ("missing kind", "nvidia.hdra.io", {"apiVersion": API_VERSION}, f"{CLAIM_PATH}.kind", "field required"),
    (
        "oversized",
        "nvidia.hdra.io",
        json.dumps(cfg(padding="x" * MAX_PARAMETERS_BYTES)),
        CLAIM_PATH,
        "exceed the limit of 10240 bytes (10 KiB)",
    ),
    ("not JSON", "nvidia.hdra.io", "corePolicy: force", CLAIM_PATH, "not valid JSON"),
    ("empty", "nvidia.hdra.io", b"", CLAIM_PATH, "not valid JSON"),
    ("not UTF-8", "nvidia.hdra.io", b'{"kind": "\xff"}', CLAIM_PATH, "not UTF-8 encoded JSON"),
    ("NaN", "nvidia.hdra.io", '{"logLevel": NaN}', CLAIM_PATH, "NaN is not a JSON value"),
    (
        "duplicate key",
        "nvidia.hdra.io",
        '{"logLevel": 1, "logLevel": 2}',
        CLAIM_PATH,
        "duplicate field 'logLevel'",
    ),
    (
        "JSON array",
        "nvidia.hdra.io",
        "[1, 2]",
        CLAIM_PATH,
        "expected a JSON object with apiVersion and kind, got an array",
    ),
    ("JSON string", "nvidia.hdra.io", '"force"', CLAIM_PATH, 'got "force"'),
    ("JSON null", "nvidia.hdra.io", "null", CLAIM_PATH, "got null"),
    (
        "mapping with non-JSON value",
        "nvidia.hdra.io",
        cfg(logLevel={1, 2}),
        CLAIM_PATH,
        "not representable as JSON",
    ),
    ("python object", "nvidia.hdra.io", 42, CLAIM_PATH, "got a Python int"),
]


@pytest.mark.parametrize(
    ("driver", "parameters", "field", "words"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID]
)
def test_invalid_configs_name_the_field(driver: str, parameters: Any, field: str, words: str) -> None:
    with pytest.raises(ParameterError) as caught:
        decode_config(parameters, driver=driver, path=CLAIM_PATH)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert words in str(error)


def test_message_matches_the_documented_shape() -> None:
    with pytest.raises(ParameterError) as caught:
        decode_config(cfg(logLevel=5), driver="nvidia.hdra.io", path=CLAIM_PATH)
    assert str(caught.value).startswith(f"{CLAIM_PATH}.logLevel: Input should be less than or equal to 4")


def test_every_error_is_reported_with_its_own_path() -> None:
    with pytest.raises(ParameterError) as caught:
        decode_config(cfg(logLevel="1", corePolicy="always", extra=1), driver="nvidia.hdra.io")
    fields = [field for field, _ in caught.value.details]
    assert fields == ["parameters.corePolicy", "parameters.logLevel", "parameters.extra"]
    for field in fields:
        assert f"{field}: " in str(caught.value)


def test_size_limit_is_inclusive() -> None:
    base = json.dumps(cfg())
    at_limit = base[:-1] + " " * (MAX_PARAMETERS_BYTES - len(base)) + "}"
    assert len(at_limit.encode()) == MAX_PARAMETERS_BYTES
    assert decode_config(at_limit, driver="nvidia.hdra.io") == AcceleratorConfig()
    with pytest.raises(ParameterError, match="10241 bytes exceed"):
        decode_config(at_limit + " ", driver="nvidia.hdra.io")


def test_foreign_driver_is_a_programming_error() -> None:
    with pytest.raises(
        ValueError, match=r"driver 'gpu.nvidia.com' is not an hdra driver; known drivers: nvidia"
    ):
        decode_config(cfg(), driver="gpu.nvidia.com")


def test_hdra_drivers() -> None:
    assert HDRA_DRIVERS == (
        "nvidia.hdra.io",
        "amd.hdra.io",
        "ascend.hdra.io",
        "cambricon.hdra.io",
        "hygon.hdra.io",
        "mock.hdra.io",
    )
    assert all(is_hdra_driver(name) for name in HDRA_DRIVERS)
    for other in ("gpu.nvidia.com", "NVIDIA.hdra.io", "hdra.io", "nvidia.hdra.io.", ""):
        assert not is_hdra_driver(other)
