"""The HAMi resource and annotation names per vendor, as one table (reference/hami.md §1.2, §1.3, §1.6).

Owns: ``DeviceFamily`` (one kind of card a pod can ask for: its count, memory, cores and priority
resource names, units, selection annotations and HAMi's per-vendor rules), the table ``FAMILIES``
and the lookups over it. Everything vendor-specific in the conversion lives here as data; the
converter must never name a vendor. This module must never read pods or build claims.

Units (HAMi chart defaults): NVIDIA, Hygon and AMD memory in MiB, Cambricon ``vmemory`` in units
of 256 MiB, Ascend ``-memory`` in MB as HAMi counts them (that is MiB: 65536 for a 64 GiB 910B).
Cores are percent of the card everywhere (hdra publishes ``cores`` 0..100 for every vendor,
DESIGN §4), including Ascend ``-core`` and Hygon ``dcucores``.

Ascend has one family per chip: the chip is in the resource name (``huawei.com/Ascend910B3``), so
the card type comes from the name rather than from an annotation. Its ``product_pattern`` is the
regular expression (RE2, case-insensitive via ``lowerAscii``) the device's ``productName`` must
match: the DCMI chip name that Ascend drivers publish (``910B3``, ``310P3``), with or without the
``Ascend`` prefix; the 910C's chip name is ``Ascend910`` (HAMi ``charts/hami/templates/scheduler/
device-configmap.yaml``: ``chipName: Ascend910``, ``commonWord: Ascend910C``, ``superPod: true``).

Sources per family: NVIDIA ``pkg/device/nvidia/device.go``; Cambricon ``pkg/device/cambricon/
device.go`` (``MLUInUse``, ``MLUNoUse``, ``MLUUseUUID``, ``MLUNoUseUUID``, default cores 100);
Hygon ``pkg/device/hygon/device.go``; Ascend ``pkg/device/ascend/device.go`` (``MutateAdmission``);
AMD ``pkg/device/amd/device.go`` (``AMDInUse``, ``AMDNoUse``, ``AMDUseUUID``, ``AMDNoUseUUID``;
``MutateAdmission`` refuses cores outside 1..100; ``GenerateResourceRequests`` defaults cores to
100) with the resource names of ``charts/hami/templates/scheduler/device-configmap.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from dra_driver.rules import capacity


class Role(StrEnum):
    """What a HAMi resource of a family means."""

    COUNT = "count"
    MEMORY = capacity.MEMORY
    MEMORY_PERCENTAGE = "memory-percentage"
    CORES = capacity.CORES
    PRIORITY = "priority"


@dataclass(frozen=True)
class DeviceFamily:
    """One kind of card a HAMi pod asks for, and how to turn the ask into a DRA request.

    ``request_name`` is the request's name in the generated claim (a DNS label, unique per
    family). ``use_type``/``nouse_type``/``use_uuid``/``nouse_uuid`` are pod annotation keys
    (None: HAMi has no such annotation for this family). ``cores_requires`` is an annotation
    (key, value) without which the cores resource is refused (Ascend: only hami-core mode splits
    compute). ``exclusive_cores_default``: HAMi's NVIDIA rule that a card count without a memory
    request (or with 100 % memory) gets all cores. ``even_count``: HAMi's Ascend 910C superPod rule
    (1 becomes 2, odd counts are refused). ``whole_card_when_multiple``: HAMi's Ascend rule that a
    request for several chips takes whole chips (no memory with a count above 1) unless the pod is
    in the ``cores_requires`` mode (hami-core soft split, where HAMi allows it). ``default_cores``:
    the cores HAMi gives a request without a cores resource (None: the capacity policy decides).
    ``cores_min``: the lowest cores value HAMi accepts.
    """

    vendor: str
    driver: str
    request_name: str
    count: str
    memory: str | None = None
    memory_unit_mib: int = 1
    memory_percentage: str | None = None
    cores: str | None = None
    priority: str | None = None
    use_type: str | None = None
    nouse_type: str | None = None
    use_uuid: str | None = None
    nouse_uuid: str | None = None
    product_pattern: str | None = None
    cores_requires: tuple[str, str] | None = None
    exclusive_cores_default: bool = False
    even_count: bool = False
    whole_card_when_multiple: bool = False
    default_cores: int | None = None
    cores_min: int = 0

    def resources(self) -> dict[str, Role]:
        """The family's resource names and their roles."""
        named = {
            Role.COUNT: self.count,
            Role.MEMORY: self.memory,
            Role.MEMORY_PERCENTAGE: self.memory_percentage,
            Role.CORES: self.cores,
            Role.PRIORITY: self.priority,
        }
        return {name: role for role, name in named.items() if name is not None}

    @property
    def description(self) -> str:
        """How messages name the family: its count resource (what a HAMi user wrote)."""
        return self.count


NVIDIA: Final = DeviceFamily(
    vendor="nvidia",
    driver="nvidia.hdra.io",
    request_name="gpu",
    count="nvidia.com/gpu",
    memory="nvidia.com/gpumem",
    memory_percentage="nvidia.com/gpumem-percentage",
    cores="nvidia.com/gpucores",
    priority="nvidia.com/priority",
    use_type="nvidia.com/use-gputype",
    nouse_type="nvidia.com/nouse-gputype",
    use_uuid="nvidia.com/use-gpuuuid",
    nouse_uuid="nvidia.com/nouse-gpuuuid",
    exclusive_cores_default=True,
)

CAMBRICON: Final = DeviceFamily(
    vendor="cambricon",
    driver="cambricon.hdra.io",
    request_name="mlu",
    count="cambricon.com/vmlu",
    memory="cambricon.com/mlu.smlu.vmemory",
    memory_unit_mib=256,
    cores="cambricon.com/mlu.smlu.vcore",
    use_type="cambricon.com/use-mlutype",
    nouse_type="cambricon.com/nouse-mlutype",
    use_uuid="cambricon.com/use-gpuuuid",
    nouse_uuid="cambricon.com/nouse-gpuuuid",
    default_cores=100,
)

HYGON: Final = DeviceFamily(
    vendor="hygon",
    driver="hygon.hdra.io",
    request_name="dcu",
    count="hygon.com/dcunum",
    memory="hygon.com/dcumem",
    cores="hygon.com/dcucores",
    use_type="hygon.com/use-dcutype",
    nouse_type="hygon.com/nouse-dcutype",
    use_uuid="hygon.com/use-gpuuuid",
    nouse_uuid="hygon.com/nouse-gpuuuid",
)

# chip (HAMi commonWord) → productName pattern (DCMI DevType, optional "ascend" prefix, lower case).
ASCEND_CHIPS: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        "Ascend910A": r"^(ascend)?910a$",
        "Ascend910B2": r"^(ascend)?910b2$",
        "Ascend910B3": r"^(ascend)?910b3$",
        "Ascend910B4": r"^(ascend)?910b4$",
        "Ascend910B4-1": r"^(ascend)?910b4-1$",
        "Ascend310P": r"^(ascend)?310p[0-9]*$",
        "Ascend910C": r"^(ascend)?910c?$",
    }
)


def _ascend(chip: str) -> DeviceFamily:
    return DeviceFamily(
        vendor="ascend",
        driver="ascend.hdra.io",
        request_name=chip.lower(),
        count=f"huawei.com/{chip}",
        memory=f"huawei.com/{chip}-memory",
        cores=f"huawei.com/{chip}-core",
        use_uuid=f"hami.io/use-{chip}-uuid",
        nouse_uuid=f"hami.io/no-use-{chip}-uuid",
        product_pattern=ASCEND_CHIPS[chip],
        cores_requires=("huawei.com/vnpu-mode", "hami-core"),
        even_count=chip == "Ascend910C",
        whole_card_when_multiple=True,
    )


AMD: Final = DeviceFamily(
    vendor="amd",
    driver="amd.hdra.io",
    request_name="amd-gpu",
    count="amd.com/gpu",
    memory="amd.com/gpumem",
    cores="amd.com/gpucores",
    use_type="amd.com/use-gputype",
    nouse_type="amd.com/nouse-gputype",
    use_uuid="amd.com/use-gpu-uuid",
    nouse_uuid="amd.com/nouse-gpu-uuid",
    default_cores=100,
    cores_min=1,
)

FAMILIES: Final[tuple[DeviceFamily, ...]] = (
    NVIDIA,
    CAMBRICON,
    *(_ascend(chip) for chip in ASCEND_CHIPS),
    HYGON,
    AMD,
)
"""Every family, in the order their requests appear in a generated claim."""

VENDOR_PREFIXES: Final[tuple[str, ...]] = (
    "nvidia.com/",
    "cambricon.com/",
    "huawei.com/",
    "hygon.com/",
    "amd.com/",
)
"""Resource name prefixes the webhook owns: a name under one of them that no family knows is refused."""

RESOURCES: Final[MappingProxyType[str, tuple[DeviceFamily, Role]]] = MappingProxyType(
    {name: (family, role) for family in FAMILIES for name, role in family.resources().items()}
)
"""Resource name → (family, role)."""


def owned_prefix(resource: str) -> str | None:
    """The vendor prefix ``resource`` falls under, or None when the webhook does not own it."""
    return next((prefix for prefix in VENDOR_PREFIXES if resource.startswith(prefix)), None)


def known_under(prefix: str) -> list[str]:
    """The resource names the table knows under ``prefix``, sorted (for messages)."""
    return sorted(name for name in RESOURCES if name.startswith(prefix))


def check_table() -> None:
    """The table's own invariants; raises ValueError naming the offending entry."""
    names = [family.request_name for family in FAMILIES]
    if len(set(names)) != len(names):
        raise ValueError(f"request names are not unique: {names}")
    if sum(len(family.resources()) for family in FAMILIES) != len(RESOURCES):
        raise ValueError("a resource name belongs to two families")
    for name in RESOURCES:
        if owned_prefix(name) is None:
            raise ValueError(f"resource {name!r} is under no vendor prefix of {VENDOR_PREFIXES}")


check_table()
