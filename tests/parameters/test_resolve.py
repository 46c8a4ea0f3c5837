"""resolve_request_configs: class entries first, then claim entries; the last entry naming a
request (empty = all, a parent covers its subrequests) wins; other drivers are skipped; a request
nobody names gets the default config; a bad entry's error names that entry's path."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.parameters import (
    API_VERSION,
    DEFAULT_CONFIG,
    KIND,
    AcceleratorConfig,
    OpaqueConfigEntry,
    ParameterError,
    resolve_request_configs,
)
from dra_driver.parameters.resolve import ConfigSource

NV = "nvidia.hdra.io"


def params(level: int) -> dict[str, Any]:
    """Parameters told apart by their logLevel."""
    return {"apiVersion": API_VERSION, "kind": KIND, "logLevel": level}


def entry(
    source: ConfigSource, requests: tuple[str, ...], level: int, driver: str = NV, index: int = 0
) -> OpaqueConfigEntry:
    return OpaqueConfigEntry(
        source=source,
        requests=requests,
        driver=driver,
        parameters=params(level),
        path=f"status.allocation.devices.config[{index}].opaque.parameters",
    )


def levels(resolved: dict[str, AcceleratorConfig]) -> dict[str, int | None]:
    return {request: config.log_level for request, config in resolved.items()}


def test_class_entries_apply_before_claim_entries_whatever_their_position() -> None:
    configs = [entry("FromClaim", (), 3), entry("FromClass", (), 1)]
    assert levels(resolve_request_configs(configs, driver=NV, request_names=["gpu"])) == {"gpu": 3}


def test_last_entry_wins_within_a_group() -> None:
    configs = [
        entry("FromClass", (), 0),
        entry("FromClass", (), 1),
        entry("FromClaim", ("gpu",), 2),
        entry("FromClaim", ("gpu",), 4),
    ]
    assert levels(resolve_request_configs(configs, driver=NV, request_names=["gpu"])) == {"gpu": 4}


def test_empty_requests_apply_to_all_and_named_ones_only_to_theirs() -> None:
    configs = [entry("FromClass", (), 1), entry("FromClaim", ("b",), 2), entry("FromClaim", ("c", "d"), 3)]
    resolved = resolve_request_configs(configs, driver=NV, request_names=["a", "b", "c", "d"])
    assert levels(resolved) == {"a": 1, "b": 2, "c": 3, "d": 3}


def test_a_later_all_requests_entry_overrides_a_named_one() -> None:
    configs = [entry("FromClaim", ("a",), 2), entry("FromClaim", (), 4)]
    assert levels(resolve_request_configs(configs, driver=NV, request_names=["a"])) == {"a": 4}


def test_parent_request_covers_its_subrequests() -> None:
    configs = [entry("FromClaim", ("gpu",), 2), entry("FromClaim", ("gpu/h200",), 3)]
    resolved = resolve_request_configs(
        configs, driver=NV, request_names=["gpu/a100", "gpu/h200", "gpux/a100", "other"]
    )
    assert levels(resolved) == {"gpu/a100": 2, "gpu/h200": 3, "gpux/a100": None, "other": None}


def test_subrequest_entry_does_not_cover_the_parent_or_siblings() -> None:
    configs = [entry("FromClaim", ("gpu/a100",), 2)]
    resolved = resolve_request_configs(configs, driver=NV, request_names=["gpu", "gpu/v100"])
    assert levels(resolved) == {"gpu": None, "gpu/v100": None}


def test_other_drivers_are_skipped_even_when_invalid_for_us() -> None:
    foreign = OpaqueConfigEntry(
        source="FromClaim",
        requests=(),
        driver="gpu.nvidia.com",
        parameters={"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig"},
        path="spec.devices.config[1].opaque.parameters",
    )
    other_hdra = entry("FromClaim", (), 4, driver="amd.hdra.io")
    configs = [entry("FromClass", (), 1), foreign, other_hdra]
    assert levels(resolve_request_configs(configs, driver=NV, request_names=["gpu"])) == {"gpu": 1}


def test_default_config_when_no_entry_applies() -> None:
    resolved = resolve_request_configs([], driver=NV, request_names=["a", "b"])
    assert resolved == {"a": DEFAULT_CONFIG, "b": DEFAULT_CONFIG}
    assert resolved["a"].model_dump(by_alias=True) == AcceleratorConfig().model_dump(by_alias=True)


def test_error_names_the_entry_path_even_if_the_entry_would_be_overridden() -> None:
    bad = OpaqueConfigEntry(
        source="FromClass",
        requests=(),
        driver=NV,
        parameters={"apiVersion": API_VERSION, "kind": KIND, "logLevel": 9},
        path="status.allocation.devices.config[2].opaque.parameters",
    )
    with pytest.raises(ParameterError) as caught:
        resolve_request_configs([bad, entry("FromClaim", (), 1)], driver=NV, request_names=["gpu"])
    assert caught.value.field == "status.allocation.devices.config[2].opaque.parameters.logLevel"
    assert str(caught.value).startswith("status.allocation.devices.config[2].opaque.parameters.logLevel: ")


def test_vendor_extras_are_checked_against_the_resolving_driver() -> None:
    ascend = {"apiVersion": API_VERSION, "kind": KIND, "ascend": {"vnpuTemplate": "vir05_1c_16g"}}
    for_nvidia = OpaqueConfigEntry("FromClaim", (), NV, ascend, "spec.devices.config[0].opaque.parameters")
    with pytest.raises(ParameterError, match=r"^spec\.devices\.config\[0\]\.opaque\.parameters\.ascend: "):
        resolve_request_configs([for_nvidia], driver=NV, request_names=["npu"])
    for_ascend = OpaqueConfigEntry("FromClaim", (), "ascend.hdra.io", ascend)
    resolved = resolve_request_configs([for_ascend], driver="ascend.hdra.io", request_names=["npu"])
    assert resolved["npu"].vendor_sections() == ("ascend",)


def test_entry_normalises_requests_and_rejects_bad_source() -> None:
    listed = OpaqueConfigEntry("FromClaim", ["a", "b"], NV, params(1))  # type: ignore[arg-type]
    assert listed.requests == ("a", "b")
    with pytest.raises(ValueError, match=r"config source 'FromPod' is not one of FromClass, FromClaim"):
        OpaqueConfigEntry("FromPod", (), NV, params(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"requests must be a sequence of names, got the string 'gpu'"):
        OpaqueConfigEntry("FromClaim", "gpu", NV, params(1))  # type: ignore[arg-type]


def test_resolving_for_a_foreign_driver_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not an hdra driver"):
        resolve_request_configs([], driver="gpu.nvidia.com", request_names=["gpu"])
