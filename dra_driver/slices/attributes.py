"""The attributes every published device carries (DESIGN section 4).

Owns: turning an ``AcceleratorDevice`` into its attribute map, and the per-device size checks
(attributes+capacities, string lengths, device names). It must never decide capacities or how a
card is split; the shapes in ``shapes.py`` add those.

Keys without a domain belong to the driver's own domain; only the two standard PCI attributes
carry ``resource.kubernetes.io/``.
"""

from __future__ import annotations

import re

from dra_driver.devices import AcceleratorDevice, AttributeValue, Version
from dra_driver.kube.models import Device, DeviceAttribute
from dra_driver.slices.limits import SliceLimits

PCI_BUS_ID = "resource.kubernetes.io/pciBusID"
PCIE_ROOT = "resource.kubernetes.io/pcieRoot"
PARENT_UUID = "parentUUID"
REPLICA = "replica"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def attribute(value: AttributeValue) -> DeviceAttribute:
    """One typed attribute; ``bool`` is tested before ``int`` because ``True`` is an ``int``."""
    if isinstance(value, Version):
        return DeviceAttribute(version=value.semver)
    if isinstance(value, bool):
        return DeviceAttribute(bool=value)
    if isinstance(value, int):
        return DeviceAttribute(int=value)
    return DeviceAttribute(string=value)


def card_attributes(device: AcceleratorDevice, limits: SliceLimits) -> dict[str, DeviceAttribute]:
    """The attributes of the physical card, shared by every device published for it.

    Partitions and replicas keep the card's ``uuid`` (and ``index``), so CEL selectors on the uuid
    and ``distinctAttribute``/``matchAttribute`` constraints work per physical card.
    """
    values: dict[str, AttributeValue] = {
        "type": device.device_type,
        "vendor": device.vendor,
        "uuid": device.uuid,
        "productName": device.product_name,
        "index": device.index,
    }
    if device.architecture:
        values["architecture"] = device.architecture
    if device.driver_version is not None:
        values["driverVersion"] = device.driver_version
    if device.pci_bus_id:
        values[PCI_BUS_ID] = device.pci_bus_id
    if device.pcie_root:
        values[PCIE_ROOT] = device.pcie_root
    reserved = {*values, PARENT_UUID, REPLICA, "architecture", "driverVersion"}
    for key, value in device.extra_attributes.items():
        if key in reserved:
            raise ValueError(
                f"device {device.name!r}: extra attribute {key!r} clashes with an attribute "
                "hdra publishes itself"
            )
        values[key] = value
    for key, value in values.items():
        if isinstance(value, str) and len(value) > limits.max_attribute_length:
            raise ValueError(
                f"device {device.name!r}: attribute {key!r} value {value!r} is longer than "
                f"{limits.max_attribute_length} characters"
            )
    return {key: attribute(value) for key, value in values.items()}


def whole_card_selector(driver: str) -> str:
    """The CEL selector a request for whole cards carries (DESIGN §4): true only for a device that is
    a whole physical card. Partitions, vNPU templates and replicas carry ``parentUUID``; the card
    itself (exclusive, capacity, the partitions mode's whole-card device) never does. It needs no
    feature gate, so a whole-card request is never satisfied by pieces of one card, on any server."""
    return f'!("{PARENT_UUID}" in device.attributes["{driver}"])'


def derived_name(card: AcceleratorDevice, suffix: str) -> str:
    """``<card name>-<suffix>`` (``gpu-0-p4-1``), checked to be a DNS label."""
    name = f"{card.name}-{suffix}"
    if _DNS_LABEL.fullmatch(name) is None:
        raise ValueError(
            f"device {card.name!r}: derived name {name!r} is not a DNS label of at most 63 characters"
        )
    return name


def check_device_size(device: Device, card: AcceleratorDevice, limits: SliceLimits) -> Device:
    """Reject a device with more attributes+capacities or consumed counters than the API allows."""
    total = len(device.attributes or {}) + len(device.capacity or {})
    if total > limits.max_attributes_and_capacities:
        raise ValueError(
            f"device {device.name!r} (card {card.name!r}, uuid {card.uuid}) would have {total} "
            f"attributes and capacities; the API allows at most {limits.max_attributes_and_capacities}: "
            "drop extra attributes"
        )
    entries = device.consumes_counters or []
    if limits.max_consumption_entries is not None and len(entries) > limits.max_consumption_entries:
        raise ValueError(
            f"device {device.name!r} consumes {len(entries)} counter sets; "
            f"the API allows at most {limits.max_consumption_entries}"
        )
    # 1.34 caps the counters of all entries together, 1.35+ those of each entry.
    sizes = [len(entry.counters) for entry in entries]
    consumed = sum(sizes) if limits.counters_with_devices else max(sizes, default=0)
    if consumed > limits.max_consumed_counters_per_device:
        raise ValueError(
            f"device {device.name!r} consumes {consumed} counters; "
            f"the API allows at most {limits.max_consumed_counters_per_device}"
        )
    return device
