"""Test cards for the interception tests: AcceleratorDevice records with chosen PCI bus ids."""

from __future__ import annotations

from dra_driver.devices import AcceleratorDevice

GIB = 1024**3
CLAIM_UID = "5a1e7c2d-3b4f-4a6e-9c8d-7e6f5a4b3c2d"


def card(index: int, pci_bus_id: str | None, memory_gib: int = 40) -> AcceleratorDevice:
    return AcceleratorDevice(
        name=f"gpu-{index}",
        index=index,
        uuid=f"GPU-{index:08d}-0000-0000-0000-000000000000",
        vendor="nvidia",
        device_type="gpu",
        product_name="NVIDIA A100-SXM4-40GB",
        memory_bytes=memory_gib * GIB,
        pci_bus_id=pci_bus_id,
    )
