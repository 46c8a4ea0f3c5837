"""The AMD backend: discovers Instinct GPUs with ``amd-smi`` (path from ``--amd-tool``).

Owns: ``AmdBackend`` and the parsing of two JSON outputs:

* ``amd-smi list --json`` — ``[{"gpu": <n>, "bdf": "0000:05:00.0", "uuid": "…"}, …]``;
* ``amd-smi static --asic --bus --vram --driver --json`` — per GPU ``asic.market_name``,
  ``asic.num_compute_units``, ``asic.target_graphics_version``, ``vram.size`` (``{"value": n,
  "unit": "MB"}``, where amd-smi's MB are MiB) and ``driver.version``.

Newer amd-smi releases wrap the list as ``{"gpu_data": […]}``; both shapes are read. From sysfs
(``drm``) each card also gets ``drmCard``/``drmRender`` (its /dev/dri nodes) and ``rocrUuid`` (what
``ROCR_VISIBLE_DEVICES`` takes). It must never publish a non-semver version or return a partial
device list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dra_driver.devices.base import AcceleratorDevice, AttributeValue, BackendError
from dra_driver.devices.drm import SYS_ROOT, drm_attributes, rocr_uuids
from dra_driver.devices.tools import optional_version, parse_error, pci_bus_id, run_tool

AMD_VENDOR = "amd"
DEFAULT_AMD_SMI = Path("/usr/bin/amd-smi")
MIB = 1024 * 1024
_UNITS = {"B": 1, "KB": 1024, "MB": MIB, "GB": 1024 * MIB}


class AmdBackend:
    """Discovers AMD GPUs by running ``tool`` (``amd-smi``)."""

    def __init__(self, tool: Path = DEFAULT_AMD_SMI, sys_root: Path = SYS_ROOT) -> None:
        self._tool = tool
        self._sys_root = sys_root

    @property
    def vendor(self) -> str:
        return AMD_VENDOR

    def discover(self) -> list[AcceleratorDevice]:
        listed = {self._gpu_index(item): item for item in self._json(["list", "--json"])}
        devices = []
        rocr = rocr_uuids(self._sys_root)
        for item in self._json(["static", "--asic", "--bus", "--vram", "--driver", "--json"]):
            index = self._gpu_index(item)
            if index not in listed:
                raise BackendError(f"{self._tool} static reports GPU {index}, which {self._tool} list omits")
            devices.append(self._device(index, listed[index], item, rocr))
        if not devices:
            raise BackendError(f"cannot parse the output of {self._tool} static: it lists no GPU")
        return sorted(devices, key=lambda d: d.index)

    def _json(self, args: list[str]) -> list[dict[str, Any]]:
        text = run_tool(self._tool, args, vendor=AMD_VENDOR)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = text.splitlines() or [""]
            line = lines[min(exc.lineno, len(lines)) - 1]
            raise parse_error(self._tool, line, f"{args[0]} --json is not JSON ({exc.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("gpu_data"), list):
            data = data["gpu_data"]
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise parse_error(
                self._tool, text.splitlines()[0] if text else "", "expected a list of GPU objects"
            )
        return data

    def _gpu_index(self, item: dict[str, Any]) -> int:
        index = item.get("gpu")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise parse_error(self._tool, json.dumps(item)[:120], "a GPU object has no integer 'gpu'")
        return index

    def _device(
        self, index: int, listed: dict[str, Any], static: dict[str, Any], rocr: dict[int, str]
    ) -> AcceleratorDevice:
        asic = static.get("asic") or {}
        vram = (static.get("vram") or {}).get("size") or {}
        driver = static.get("driver") or {}
        name = str(asic.get("market_name", "")).strip()
        uuid = str(listed.get("uuid", "")).strip()
        if not name or not uuid:
            raise BackendError(f"{self._tool} reports no market_name or uuid for GPU {index}")
        value, unit = vram.get("value"), str(vram.get("unit", "")).upper()
        if not isinstance(value, int) or value <= 0 or unit not in _UNITS:
            raise parse_error(self._tool, json.dumps({"size": vram}), f"GPU {index} vram size is unreadable")
        extra: dict[str, AttributeValue] = {}
        units = asic.get("num_compute_units")
        if isinstance(units, int) and units > 0:
            extra["computeUnits"] = units
        version_text = str(driver.get("version", "")).strip()
        bus_id = pci_bus_id(str((static.get("bus") or {}).get("bdf") or listed.get("bdf") or ""))
        extra.update(drm_attributes(self._sys_root, bus_id))
        render = extra.get("drmRender")
        if isinstance(render, int) and render in rocr:
            extra["rocrUuid"] = rocr[render]
        return AcceleratorDevice(
            name=f"gpu-{index}",
            index=index,
            uuid=uuid,
            vendor=AMD_VENDOR,
            device_type="gpu",
            product_name=name,
            architecture=str(asic.get("target_graphics_version", "")).strip(),
            memory_bytes=value * _UNITS[unit],
            driver_version=optional_version(version_text, what=f"GPU {index}") if version_text else None,
            pci_bus_id=bus_id,
            extra_attributes=extra,
        )
