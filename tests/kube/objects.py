"""Builders for the typed objects the kube adapter tests create (official client models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from dra_driver.kube.models import (
    CELDeviceSelector,
    Device,
    DeviceClaim,
    DeviceClass,
    DeviceClassSpec,
    DeviceRequest,
    DeviceSelector,
    ExactDeviceRequest,
    Node,
    ObjectMeta,
    ResourceClaim,
    ResourceClaimSpec,
    ResourceClaimTemplate,
    ResourceClaimTemplateSpec,
    ResourcePool,
    ResourceSlice,
    ResourceSliceSpec,
)

DRIVER = "mock.hdra.io"


def resource_slice(name: str, node: str, *, devices: int = 1, driver: str = DRIVER) -> ResourceSlice:
    return ResourceSlice(
        metadata=ObjectMeta(name=name, labels={"node": node}),
        spec=ResourceSliceSpec(
            driver=driver,
            node_name=node,
            pool=ResourcePool(name=node, generation=1, resource_slice_count=1),
            devices=[Device(name=f"gpu-{i}") for i in range(devices)],
        ),
    )


def device_class(name: str, expression: str = f'device.driver == "{DRIVER}"') -> DeviceClass:
    return DeviceClass(
        metadata=ObjectMeta(name=name),
        spec=DeviceClassSpec(selectors=[DeviceSelector(cel=CELDeviceSelector(expression=expression))]),
    )


def node(name: str) -> Node:
    return Node(metadata=ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}))


def claim_spec(device_class_name: str = DRIVER) -> ResourceClaimSpec:
    return ResourceClaimSpec(
        devices=DeviceClaim(
            requests=[
                DeviceRequest(name="gpu", exactly=ExactDeviceRequest(device_class_name=device_class_name))
            ]
        )
    )


def resource_claim(namespace: str, name: str) -> ResourceClaim:
    return ResourceClaim(metadata=ObjectMeta(name=name, namespace=namespace), spec=claim_spec())


def claim_template(namespace: str, name: str) -> ResourceClaimTemplate:
    return ResourceClaimTemplate(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=ResourceClaimTemplateSpec(spec=claim_spec()),
    )


class HasMeta(Protocol):
    @property
    def metadata(self) -> ObjectMeta | None: ...


def meta(obj: HasMeta) -> ObjectMeta:
    assert obj.metadata is not None
    return obj.metadata


def name_of(obj: HasMeta) -> str:
    name = meta(obj).name
    assert name is not None
    return name


def names(objects: Iterable[HasMeta]) -> list[str]:
    return sorted(name_of(obj) for obj in objects)


def device_names(obj: ResourceSlice) -> list[str]:
    return [device.name for device in obj.spec.devices or []]


def with_device(obj: ResourceSlice, name: str) -> ResourceSlice:
    """``obj`` with one more device appended (mutated in place and returned)."""
    obj.spec.devices = [*(obj.spec.devices or []), Device(name=name)]
    return obj
