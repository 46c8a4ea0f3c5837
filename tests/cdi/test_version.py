"""Specs declare the minimum cdiVersion their fields need; invalid specs and devices are refused."""

from __future__ import annotations

import json

import pytest

from dra_driver.cdi import (
    CdiDevice,
    CdiError,
    CdiSpec,
    ContainerEdits,
    DeviceNode,
    Mount,
    NetDevice,
    build_spec,
    check_version,
    minimum_version,
)

ENV = ContainerEdits(env=("A=1",))


def _device(
    name: str = "gpu", edits: ContainerEdits = ENV, annotations: dict[str, str] | None = None
) -> CdiDevice:
    return CdiDevice(name=name, container_edits=edits, annotations=annotations or {})


@pytest.mark.parametrize(
    ("kind", "devices", "spec_edits", "annotations", "expected"),
    [
        ("hdra.io/mock", [_device()], None, None, "0.3.0"),
        (
            "hdra.io/mock",
            [_device(edits=ContainerEdits(mounts=(Mount(host_path="/a", container_path="/b"),)))],
            None,
            None,
            "0.3.0",
        ),
        (
            "hdra.io/mock",
            [
                _device(
                    edits=ContainerEdits(mounts=(Mount(host_path="/a", container_path="/b", type="bind"),))
                )
            ],
            None,
            None,
            "0.4.0",
        ),
        (
            "hdra.io/mock",
            [_device(edits=ContainerEdits(device_nodes=(DeviceNode(path="/dev/x", host_path="/dev/y"),)))],
            None,
            None,
            "0.5.0",
        ),
        ("hdra.io/mock", [_device(name="0f3c-gpu-0")], None, None, "0.5.0"),
        (
            "hdra.io/mock",
            [_device()],
            ContainerEdits(device_nodes=(DeviceNode(path="/dev/x"),)),
            None,
            "0.3.0",
        ),
        ("hdra.io/mock", [_device()], None, {"a": "b"}, "0.6.0"),
        ("hdra.io/mock", [_device(annotations={"a": "b"})], None, None, "0.6.0"),
        ("hdra.io/mock.x", [_device()], None, None, "0.6.0"),
        ("hdra.io/mock", [_device()], ContainerEdits(additional_gids=(44,)), None, "0.7.0"),
        (
            "hdra.io/mock",
            [
                _device(
                    edits=ContainerEdits(net_devices=(NetDevice(host_interface_name="eth1", name="net0"),))
                )
            ],
            None,
            None,
            "1.1.0",
        ),
    ],
)
def test_minimum_version_per_field(
    kind: str,
    devices: list[CdiDevice],
    spec_edits: ContainerEdits | None,
    annotations: dict[str, str] | None,
    expected: str,
) -> None:
    spec = build_spec(kind, devices, spec_edits, annotations)
    assert minimum_version(spec) == expected
    assert spec.cdi_version == expected
    check_version(spec)


def test_check_version_refuses_too_old_and_unknown_versions() -> None:
    spec = build_spec("hdra.io/mock", [_device()], annotations={"a": "b"})
    with pytest.raises(CdiError, match=r"declares cdiVersion 0\.5\.0 but its fields need 0\.6\.0"):
        check_version(spec.model_copy(update={"cdi_version": "0.5.0"}))
    with pytest.raises(CdiError, match=r"unknown cdiVersion '9\.9\.9'"):
        check_version(spec.model_copy(update={"cdi_version": "9.9.9"}))


def test_device_without_edits_is_refused() -> None:
    with pytest.raises(CdiError, match="CDI device 'gpu' has no container edits"):
        build_spec("hdra.io/mock", [CdiDevice.model_construct(name="gpu", container_edits=ContainerEdits())])
    with pytest.raises(ValueError, match="has no container edits"):
        CdiDevice(name="gpu", container_edits=ContainerEdits())


def test_duplicate_device_names_and_empty_device_list_are_refused() -> None:
    with pytest.raises(CdiError, match="defines device 'gpu' twice"):
        build_spec("hdra.io/mock", [_device(), _device()])
    with pytest.raises(CdiError, match="devices"):
        build_spec("hdra.io/mock", [])


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"env": ["NOVALUE"]}, "'NOVALUE' is not KEY=VALUE"),
        ({"env": ["=x"]}, "'=x' is not KEY=VALUE"),
        ({"hooks": [{"hookName": "createContainer", "path": "bin/x"}]}, "not absolute"),
        ({"hooks": [{"hookName": "onBoot", "path": "/bin/x"}]}, "hookName"),
        ({"deviceNodes": [{"path": "/dev/x", "permissions": "rwx"}]}, "subset of 'rwm'"),
        ({"mounts": [{"hostPath": "", "containerPath": "/x"}]}, "hostPath"),
        ({"unknownField": 1}, "unknownField"),
    ],
)
def test_bad_edits_name_the_field(edits: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContainerEdits.model_validate(edits)


def test_json_uses_camel_case_and_leaves_out_empty_fields() -> None:
    edits = ContainerEdits(
        env=("A=1",),
        device_nodes=(DeviceNode(path="/dev/x", host_path="/dev/y", file_mode=0o666),),
        mounts=(Mount(host_path="/a", container_path="/b", options=("ro", "bind")),),
    )
    spec = build_spec("hdra.io/mock", [_device(name="gpu-0", edits=edits)])
    document = json.loads(spec.to_json())
    assert document == {
        "cdiVersion": "0.5.0",
        "kind": "hdra.io/mock",
        "devices": [
            {
                "name": "gpu-0",
                "containerEdits": {
                    "env": ["A=1"],
                    "deviceNodes": [{"path": "/dev/x", "hostPath": "/dev/y", "fileMode": 438}],
                    "mounts": [{"hostPath": "/a", "containerPath": "/b", "options": ["ro", "bind"]}],
                },
            }
        ],
    }
    assert CdiSpec.model_validate(document) == spec


def test_merged_edits_keep_order_and_stay_valid() -> None:
    first = ContainerEdits(env=("A=1",), mounts=(Mount(host_path="/a", container_path="/b"),))
    second = ContainerEdits(env=("B=2",), additional_gids=(7,))
    merged = first.merged(second)
    assert merged.env == ("A=1", "B=2")
    assert merged.mounts == first.mounts
    assert merged.additional_gids == (7,)
    assert ContainerEdits().merged(ContainerEdits()).is_empty()
