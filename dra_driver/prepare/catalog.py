"""The device catalog prepare reads: the published-pool snapshot (``dra_driver.slices.pool``).

Owns nothing of its own any more: ``DeviceCatalog`` *is* ``PublishedPool`` and ``CatalogEntry`` is
``PublishedDevice``, so prepare maps an allocation's device name (``gpu-0``, ``gpu-0-p4-2``,
``gpu-1-r3``) to the card and capacity in exactly the snapshot the publisher swapped in last, the
same one the health stream and metrics read. It must never guess: a name that is not in the
catalog is an unknown device.
"""

from __future__ import annotations

from dra_driver.slices.pool import PublishedDevice, PublishedPool

DeviceCatalog = PublishedPool
CatalogEntry = PublishedDevice

__all__ = ["CatalogEntry", "DeviceCatalog"]
