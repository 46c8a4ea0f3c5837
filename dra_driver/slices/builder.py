"""Build a node's ResourceSlices from its discovered cards.

Owns: ``build_slices`` and the deterministic slice names. It must never talk to an API server,
set ``pool.generation`` beyond the initial 1, owner references or labels (the controller does),
nor drop a card: an unhealthy card is published with the ``<driver>/unhealthy`` taint on its devices
when taints are enabled (``taints.py``), and as it is otherwise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.models import ObjectMeta, ResourcePool, ResourceSlice, ResourceSliceSpec
from dra_driver.slices.layout import SliceContent, layout
from dra_driver.slices.limits import limits_for
from dra_driver.slices.modes import SharingMode
from dra_driver.slices.options import DEFAULT_OPTIONS, SliceOptions
from dra_driver.slices.shapes import card_group
from dra_driver.slices.taints import taint_unhealthy

API_VERSION = "resource.k8s.io/v1"
KIND = "ResourceSlice"
MAX_NAME = 253
MAX_DRIVER = 63

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def build_slices(
    devices: Sequence[AcceleratorDevice],
    *,
    driver: str,
    node_name: str,
    mode: SharingMode,
    options: SliceOptions = DEFAULT_OPTIONS,
    keep_order: bool = False,
) -> list[ResourceSlice]:
    """The complete desired set of slices of one node's pool (pool name = node name).

    Counters-only slices come first, then device slices in card index order — or, with
    ``keep_order``, in the order of ``devices`` as given: the allocator takes the first device that
    fits, in slice order, so a scheduling policy expresses its card preference through this order
    (DESIGN section 8). Every slice carries ``pool{name, generation: 1, resourceSliceCount}`` and the
    name ``<node>-<driver>-<k>``.
    """
    mode = SharingMode(mode)
    if mode is SharingMode.AUTO:
        raise ValueError(
            "build_slices cannot build sharing mode 'auto': the controller resolves it to a concrete mode "
            "(first_mode_for_gates / dropped_gates) before building"
        )
    check_pool_names(driver, node_name)
    cards = list(devices) if keep_order else sorted(devices, key=lambda card: card.index)
    _check_unique(cards)
    limits = limits_for(options.kube_version)
    groups = [taint_unhealthy(card_group(card, mode, options, limits), driver, options) for card in cards]
    contents = layout(groups, limits)
    _check_pool_names(contents)
    return [
        _slice(content, driver=driver, node_name=node_name, index=k, count=len(contents))
        for k, content in enumerate(contents)
    ]


def slice_name(node_name: str, driver: str, index: int) -> str:
    """``<node>-<driver>-<index>``; beyond 253 characters the prefix is cut and a hash of the full
    node and driver names keeps distinct pools apart."""
    name = f"{node_name}-{driver}-{index}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(f"{node_name}\0{driver}".encode()).hexdigest()[:10]
    suffix = f"-{digest}-{index}"
    prefix = f"{node_name}-{driver}"[: MAX_NAME - len(suffix)].rstrip("-.")
    return f"{prefix}{suffix}"


def _slice(content: SliceContent, *, driver: str, node_name: str, index: int, count: int) -> ResourceSlice:
    return ResourceSlice(
        api_version=API_VERSION,
        kind=KIND,
        metadata=ObjectMeta(name=slice_name(node_name, driver, index)),
        spec=ResourceSliceSpec(
            driver=driver,
            node_name=node_name,
            pool=ResourcePool(name=node_name, generation=1, resource_slice_count=count),
            devices=content.devices,
            shared_counters=content.shared_counters,
        ),
    )


def check_pool_names(driver: str, node_name: str) -> None:
    """``ValueError`` naming the value unless the driver and the node name (the pool name) are
    lower-case DNS subdomains the API server accepts in a ResourceSlice."""
    _check_subdomain("driver", driver, MAX_DRIVER)
    _check_subdomain("node name", node_name, MAX_NAME)


def _check_subdomain(what: str, value: str, limit: int) -> None:
    if len(value) > limit or _DNS_SUBDOMAIN.fullmatch(value) is None:
        raise ValueError(f"{what} {value!r} is not a lower-case DNS subdomain of at most {limit} characters")


def _check_unique(cards: Sequence[AcceleratorDevice]) -> None:
    names: dict[str, AcceleratorDevice] = {}
    indices: dict[int, AcceleratorDevice] = {}
    for card in cards:
        if card.name in names:
            raise ValueError(
                f"two devices are named {card.name!r} (uuids {names[card.name].uuid}, {card.uuid})"
            )
        if card.index in indices:
            raise ValueError(
                f"devices {indices[card.index].name!r} and {card.name!r} share index {card.index}"
            )
        names[card.name] = card
        indices[card.index] = card


def _check_pool_names(contents: Sequence[SliceContent]) -> None:
    """Device names and counter-set names must be unique in the pool (derived names could clash)."""
    seen: set[str] = set()
    for content in contents:
        names = [device.name for device in content.devices or []]
        names += [f"counter set {counter_set.name}" for counter_set in content.shared_counters or []]
        for name in names:
            if name in seen:
                raise ValueError(
                    f"{name!r} occurs twice in the pool; rename the cards so derived names differ"
                )
            seen.add(name)
