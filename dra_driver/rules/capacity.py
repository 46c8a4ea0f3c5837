"""Capacity names and the whole-card rule, shared by slices, prepare, interception, metrics and policy.

- ``MEMORY`` (bytes) and ``CORES`` (percent of the card's compute) are the capacity names hdra
  publishes on every device and that claims request (DESIGN §4).
- ``FULL_CORES`` is a whole card's compute: 100 percent.
- Cores of ``None`` (not published or not consumed), 0 or ``FULL_CORES`` and above put no limit on
  compute: HAMi-core treats an SM limit of 0 or unset as 100 (hami.md §2.2), and so do the other
  vendors' mechanisms here.
- Memory of ``None`` or at least the card's memory puts no limit on memory.
- A device or allocation is the *whole card* when neither memory nor compute is limited; a whole
  card runs without interception.
"""

from __future__ import annotations

MEMORY = "memory"
CORES = "cores"
CAPACITY_NAMES = (MEMORY, CORES)
FULL_CORES = 100


def cores_unlimited(cores: int | None) -> bool:
    """True when ``cores`` percent puts no limit on compute (None, 0, or a full card)."""
    return cores is None or cores == 0 or cores >= FULL_CORES


def memory_unlimited(memory_bytes: int | None, card_memory_bytes: int) -> bool:
    """True when ``memory_bytes`` puts no limit on a card of ``card_memory_bytes`` (None, or all of it)."""
    return memory_bytes is None or memory_bytes >= card_memory_bytes


def is_whole_card(memory_bytes: int | None, cores: int | None, card_memory_bytes: int) -> bool:
    """The whole-card rule: neither memory nor compute limited."""
    return memory_unlimited(memory_bytes, card_memory_bytes) and cores_unlimited(cores)
