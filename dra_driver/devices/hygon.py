"""The Hygon backend: discovers DCUs with ``hy-smi`` (path from ``--hygon-tool``).

Owns: ``HygonBackend`` and the parsing of ``hy-smi --showproductname --showuniqueid --showbus
--showmeminfo vram --showdriverversion --json`` (hy-smi is a fork of rocm-smi and keeps its JSON
shape): one object ``card<N>`` per card with ``Card series``, ``Unique ID``, ``PCI Bus`` and
``VRAM Total Memory (B)``, plus ``system`` with ``Driver version``.

``hy-smi`` prints no compute-unit count, so ``computeUnits`` (which the vDCU ``cu_count`` needs)
comes from the model table below, published only for models listed there. ``drmCard``/``drmRender``
(the card's /dev/dri nodes) come from sysfs (``drm``). It must never publish a non-semver version
or return a partial device list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dra_driver.devices.base import AcceleratorDevice, AttributeValue, BackendError
from dra_driver.devices.drm import SYS_ROOT, drm_attributes
from dra_driver.devices.tools import optional_version, parse_error, pci_bus_id, run_tool

HYGON_VENDOR = "hygon"
DEFAULT_HY_SMI = Path("/opt/hyhal/bin/hy-smi")
HY_SMI_ARGS = (
    "--showproductname",
    "--showuniqueid",
    "--showbus",
    "--showmeminfo",
    "vram",
    "--showdriverversion",
    "--json",
)

COMPUTE_UNITS: MappingProxyType[str, int] = MappingProxyType({"Z100": 60, "Z100L": 60})
"""DCU model (``Card series``) → compute units (Z100: 60 CUs, like the gfx906 it derives from)."""

_CARD_KEY = re.compile(r"card(\d+)")


class HygonBackend:
    """Discovers Hygon DCUs by running ``tool`` (``hy-smi``)."""

    def __init__(self, tool: Path = DEFAULT_HY_SMI, sys_root: Path = SYS_ROOT) -> None:
        self._tool = tool
        self._sys_root = sys_root

    @property
    def vendor(self) -> str:
        return HYGON_VENDOR

    def discover(self) -> list[AcceleratorDevice]:
        text = run_tool(self._tool, HY_SMI_ARGS, vendor=HYGON_VENDOR)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = text.splitlines() or [""]
            raise parse_error(
                self._tool, lines[min(exc.lineno, len(lines)) - 1], f"not JSON ({exc.msg})"
            ) from None
        if not isinstance(data, dict):
            raise parse_error(self._tool, text.splitlines()[0] if text else "", "expected a JSON object")
        system = data.get("system")
        version_text = system.get("Driver version", "") if isinstance(system, dict) else ""
        version = optional_version(str(version_text), what="hy-smi") if version_text else None
        devices = []
        for key, values in data.items():
            match = _CARD_KEY.fullmatch(key)
            if match is None:
                continue
            if not isinstance(values, dict):
                raise parse_error(self._tool, f'"{key}": {json.dumps(values)}', "a card is not an object")
            devices.append(self._device(int(match.group(1)), values, version))
        if not devices:
            raise BackendError(f"cannot parse the output of {self._tool}: it lists no card<N> object")
        return sorted(devices, key=lambda d: d.index)

    def _device(self, index: int, values: dict[str, Any], version: Any) -> AcceleratorDevice:
        def need(key: str) -> str:
            value = str(values.get(key, "")).strip()
            if not value or value == "N/A":
                raise BackendError(f"{self._tool} reports no {key!r} for card{index}")
            return value

        memory_text = need("VRAM Total Memory (B)")
        if not memory_text.isdigit() or int(memory_text) <= 0:
            raise parse_error(
                self._tool, f'"VRAM Total Memory (B)": "{memory_text}"', f"card{index} memory is not bytes"
            )
        series = need("Card series")
        extra: dict[str, AttributeValue] = {}
        if series in COMPUTE_UNITS:
            extra["computeUnits"] = COMPUTE_UNITS[series]
        bus_id = pci_bus_id(str(values.get("PCI Bus", "")))
        extra.update(drm_attributes(self._sys_root, bus_id))
        return AcceleratorDevice(
            name=f"dcu-{index}",
            index=index,
            uuid=need("Unique ID"),
            vendor=HYGON_VENDOR,
            device_type="dcu",
            product_name=series,
            memory_bytes=int(memory_text),
            driver_version=version,
            pci_bus_id=bus_id,
            extra_attributes=extra,
        )
