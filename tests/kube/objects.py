"""Builders for the typed objects the kube adapter tests create (official client models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kubernetes.client import (
    ResourceV1ResourceClaim,
    V1CELDeviceSelector,
    V1Device,
    V1DeviceClaim,
    V1DeviceClass,
    V1DeviceClassSpec,
    V1DeviceRequest,
    V1DeviceSelector,
    V1ExactDeviceRequest,
    V1Node,
    V1ObjectMeta,
    V1ResourceClaimSpec,
    V1ResourceClaimTemplate,
    V1ResourceClaimTemplateSpec,
    V1ResourcePool,
    V1ResourceSlice,
    V1ResourceSliceSpec,
)

DRIVER = "mock.hdra.io"


def resource_slice(name: str, node: str, *, devices: int = 1, driver: str = DRIVER) -> V1ResourceSlice:
    return V1ResourceSlice(
        metadata=V1ObjectMeta(name=name, labels={"node": node}),
        spec=V1ResourceSliceSpec(
            driver=driver,
            node_name=node,
            pool=V1ResourcePool(name=node, generation=1, resource_slice_count=1),
            devices=[V1Device(name=f"gpu-{i}") for i in range(devices)],
        ),
    )


def device_class(name: str, expression: str = f'device.driver == "{DRIVER}"') -> V1DeviceClass:
    return V1DeviceClass(
        metadata=V1ObjectMeta(name=name),
        spec=V1DeviceClassSpec(selectors=[V1DeviceSelector(cel=V1CELDeviceSelector(expression=expression))]),
    )


def node(name: str) -> V1Node:
    return V1Node(metadata=V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}))


def claim_spec(device_class_name: str = DRIVER) -> V1ResourceClaimSpec:
    return V1ResourceClaimSpec(
        devices=V1DeviceClaim(
            requests=[
                V1DeviceRequest(name="gpu", exactly=V1ExactDeviceRequest(device_class_name=device_class_name))
            ]
        )
    )


def resource_claim(namespace: str, name: str) -> ResourceV1ResourceClaim:
    return ResourceV1ResourceClaim(metadata=V1ObjectMeta(name=name, namespace=namespace), spec=claim_spec())


def claim_template(namespace: str, name: str) -> V1ResourceClaimTemplate:
    return V1ResourceClaimTemplate(
        metadata=V1ObjectMeta(name=name, namespace=namespace),
        spec=V1ResourceClaimTemplateSpec(spec=claim_spec()),
    )


class HasMeta(Protocol):
    @property
    def metadata(self) -> V1ObjectMeta | None: ...


def meta(obj: HasMeta) -> V1ObjectMeta:
    assert obj.metadata is not None
    return obj.metadata


def name_of(obj: HasMeta) -> str:
    name = meta(obj).name
    assert name is not None
    return name


def names(objects: Iterable[HasMeta]) -> list[str]:
    return sorted(name_of(obj) for obj in objects)


def device_names(obj: V1ResourceSlice) -> list[str]:
    return [device.name for device in obj.spec.devices or []]


def with_device(obj: V1ResourceSlice, name: str) -> V1ResourceSlice:
    """``obj`` with one more device appended (mutated in place and returned)."""
    obj.spec.devices = [*(obj.spec.devices or []), V1Device(name=name)]
    return obj
