"""The mock backend: synthetic NVIDIA-like cards for the demo, the simulator and tests.

Owns: ``MockBackend`` and the named hardware profiles in ``MOCK_PROFILES``. Every identifier a
mock card has (UUID, PCI bus id, PCIe root) is a pure function of (node name, card index), derived
with SHA-256, so a node keeps its cards across restarts and two nodes never share a UUID.
It must never touch real hardware, randomness or the clock. NVIDIA-like cards publish exactly the
attribute keys ``NvidiaBackend`` publishes for a card where every NVML query succeeds; cards of the
other vendors (``ascend910bx8``, ``mlu370x4``, ``dcuz100x4``, ``mi300x8``) carry that vendor's
``vendor``/``type``, device name prefix and the extra attribute keys its real backend publishes
(Ascend ``aiCore``/``aiCpu``, Hygon and AMD ``computeUnits``), so selectors written against the
demo work unchanged on real hardware.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import MappingProxyType

from dra_driver.devices.base import AcceleratorDevice, AttributeValue, BackendError, Version

GIB = 1024**3

MOCK_VENDOR = "mock"
"""The backend's vendor key (it names the driver ``mock.hdra.io``); cards themselves say "nvidia"."""

CARD_VENDOR = "nvidia"
"""The ``vendor`` of every mock card: the profiles model NVIDIA hardware."""

MOCK_DRIVER_VERSION = Version(semver="580.95.5")
MOCK_CUDA_DRIVER_VERSION = Version(semver="13.0.0")

# PCI layout: cards sit 0x10 buses apart starting at a node-dependent slot, two cards per PCIe
# root (like a pair behind one PCIe switch). At most 15 cards fit below bus 0xff.
_BUS_STRIDE = 0x10
_MAX_CARDS = 15


@dataclass(frozen=True)
class MockCard:
    """One card model in a profile: what the vendor's tool (NVML for NVIDIA) would report for it.

    ``compute_capability`` and ``brand`` apply to NVIDIA-like cards only; ``extra`` holds the
    vendor attributes of the other vendors' cards, with the keys their real backends publish.
    """

    product_name: str
    memory_bytes: int
    architecture: str
    compute_capability: tuple[int, int] | None
    brand: str
    vendor: str = CARD_VENDOR
    device_type: str = "gpu"
    prefix: str = "gpu"
    driver_version: Version = MOCK_DRIVER_VERSION
    extra: tuple[tuple[str, AttributeValue], ...] = ()


A100_40GB = MockCard("NVIDIA A100-SXM4-40GB", 40 * GIB, "Ampere", (8, 0), "Nvidia")
H200 = MockCard("NVIDIA H200", 141 * GIB, "Hopper", (9, 0), "Nvidia")
V100_32GB = MockCard("Tesla V100-SXM2-32GB", 32 * GIB, "Volta", (7, 0), "Tesla")
# Other vendors (hami.md §1.2; vendor data sheets): 910B3 64 GiB HBM, 20 AI cores, 7 AI CPUs;
# MLU370-X8 48 GiB; Z100 32 GiB, 60 CUs; MI300X 192 GiB, 304 CUs.
ASCEND_910B3 = MockCard(
    "Ascend910B3", 64 * GIB, "", None, "", "ascend", "npu", "npu",
    Version(semver="23.0.0-rc3"), (("aiCore", 20), ("aiCpu", 7)),
)  # fmt: skip
MLU370_X8 = MockCard(
    "MLU370-X8", 48 * GIB, "", None, "", "cambricon", "mlu", "mlu", Version(semver="4.20.18")
)
Z100 = MockCard(
    "Z100", 32 * GIB, "", None, "", "hygon", "dcu", "dcu", Version(semver="5.16.29"), (("computeUnits", 60),)
)
MI300X = MockCard(
    "AMD Instinct MI300X", 192 * GIB, "gfx942", None, "", "amd", "gpu", "gpu",
    Version(semver="6.8.5"), (("computeUnits", 304),),
)  # fmt: skip

MOCK_PROFILES: MappingProxyType[str, tuple[MockCard, ...]] = MappingProxyType(
    {
        "a100x4": (A100_40GB,) * 4,
        "h200x8": (H200,) * 8,
        "mixed": (A100_40GB,) * 2 + (V100_32GB,) * 2 + (H200,) * 4,
        "ascend910bx8": (ASCEND_910B3,) * 8,
        "mlu370x4": (MLU370_X8,) * 4,
        "dcuz100x4": (Z100,) * 4,
        "mi300x8": (MI300X,) * 8,
    }
)
"""Profile name → the cards of one node, in index order."""

DEFAULT_MOCK_PROFILE = "a100x4"
DRM_RENDER_BASE = 128
"""The kernel numbers render nodes from 128 (``/dev/dri/renderD128`` is the first card's)."""


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(("hdra-mock", *parts)).encode()).digest()


def mock_uuid(node_name: str, index: int) -> str:
    """``GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``, stable for (node, index), unique across nodes."""
    hexdigits = _digest("uuid", node_name, str(index)).hex()[:32]
    groups = (hexdigits[0:8], hexdigits[8:12], hexdigits[12:16], hexdigits[16:20], hexdigits[20:32])
    return "GPU-" + "-".join(groups)


def mock_pci_bus_numbers(node_name: str, count: int) -> list[int]:
    """The PCI bus number of each of ``count`` cards: distinct, ascending, node-dependent start."""
    if not 0 < count <= _MAX_CARDS:
        raise BackendError(f"a mock node holds 1 to {_MAX_CARDS} cards, not {count}")
    start_slots = _MAX_CARDS + 1 - count
    start = _BUS_STRIDE * (1 + _digest("pci", node_name)[0] % start_slots)
    return [start + _BUS_STRIDE * index for index in range(count)]


class MockBackend:
    """Discovers the cards of profile ``profile`` on node ``node_name``; nothing is probed."""

    def __init__(self, node_name: str, profile: str = DEFAULT_MOCK_PROFILE) -> None:
        if not node_name:
            raise BackendError("the mock backend needs a node name: its UUIDs are derived from it")
        cards = MOCK_PROFILES.get(profile)
        if cards is None:
            known = ", ".join(sorted(MOCK_PROFILES))
            raise BackendError(f"unknown mock profile {profile!r}; known profiles: {known}")
        self._node_name = node_name
        self._profile = profile
        self._cards = cards

    @property
    def vendor(self) -> str:
        return MOCK_VENDOR

    @property
    def profile(self) -> str:
        return self._profile

    def discover(self) -> list[AcceleratorDevice]:
        buses = mock_pci_bus_numbers(self._node_name, len(self._cards))
        return [self._device(index, card, buses) for index, card in enumerate(self._cards)]

    def _device(self, index: int, card: MockCard, buses: list[int]) -> AcceleratorDevice:
        extra: dict[str, AttributeValue] = dict(card.extra)
        if card.compute_capability is not None:
            major, minor = card.compute_capability
            # Same keys, types and meaning as NvidiaBackend's extra attributes (see nvidia.py).
            extra = {
                "brand": card.brand,
                "cudaComputeCapability": Version(semver=f"{major}.{minor}.0"),
                "cudaDriverVersion": MOCK_CUDA_DRIVER_VERSION,
                "migEnabled": False,
                "minor": index,
            }
        if card.vendor in ("amd", "hygon"):
            # What the AMD and Hygon backends read from sysfs (devices/drm.py): DRM minors in card
            # order and, for AMD, a ROCr UUID derived from the card's mock UUID.
            extra["drmCard"] = index
            extra["drmRender"] = DRM_RENDER_BASE + index
            if card.vendor == "amd":
                extra["rocrUuid"] = "GPU-" + _digest("kfd", self._node_name, str(index)).hex()[:16]
        root_bus = buses[index - index % 2] - 0x08
        return AcceleratorDevice(
            name=f"{card.prefix}-{index}",
            index=index,
            uuid=mock_uuid(self._node_name, index),
            vendor=card.vendor,
            device_type=card.device_type,
            product_name=card.product_name,
            architecture=card.architecture,
            memory_bytes=card.memory_bytes,
            driver_version=card.driver_version,
            pci_bus_id=f"0000:{buses[index]:02x}:00.0",
            pcie_root=f"pci0000:{root_bus:02x}",
            extra_attributes=extra,
        )
