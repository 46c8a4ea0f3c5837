"""The Ascend backend: discovers Huawei Ascend NPUs with ``npu-smi`` (path from ``--ascend-tool``).

Owns: ``AscendBackend`` and the parsing of two ``npu-smi`` outputs (the tool has no JSON mode):

* ``npu-smi info`` — the summary table. Its header line carries ``Version: <driver>``; each NPU is
  two rows: ``| <npu id> <name> | <health> | <power> <temp> <hugepages> |`` and
  ``| <chip id> | <bus id> | <aicore %> <memory used / total> <hbm used / total> |``. Rows after
  the process table header (``Process id``) are not devices.
* ``npu-smi info -t board -i <npu id>`` — ``Key : Value`` lines; ``Serial Number`` is the card's
  stable identity (published as ``uuid``), ``PCIe Bus Info`` its PCI address.

``npu-smi`` does not print a chip's AI-core count, so ``aiCore``/``aiCpu`` come from the chip
table of hami.md §1.2 (published only for chips listed there). The product name is the chip name
with an ``Ascend`` prefix (``Ascend910B3``, HAMi's common word, the name vNPU templates are keyed
by); a chip name that already carries it stays as is (the 910C's ``Ascend910``). It must never
publish a non-semver version or return a partial device list.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from dra_driver.devices.base import AcceleratorDevice, AttributeValue, BackendError
from dra_driver.devices.tools import optional_version, parse_error, pci_bus_id, run_tool

ASCEND_VENDOR = "ascend"
DEFAULT_NPU_SMI = Path("/usr/local/bin/npu-smi")
MIB = 1024 * 1024

AI_CORES: MappingProxyType[str, tuple[int, int]] = MappingProxyType(
    {
        "910A": (30, 0),
        "910B2": (24, 6),
        "910B3": (20, 7),
        "910B4": (20, 7),
        "910B4-1": (20, 7),
        "310P3": (8, 7),
        "910C": (20, 7),
        "Ascend910": (20, 7),
    }
)
"""npu-smi chip name → (AI cores, AI CPUs), from HAMi's vnpus.configs (hami.md §1.2). The 910C's
chip name is ``Ascend910`` (HAMi ``charts/hami/templates/scheduler/device-configmap.yaml``)."""

_VERSION = re.compile(r"Version:\s*(\S+)")
_FIRST_ROW = re.compile(r"^\|\s*(\d+)\s+(\S+)\s*\|\s*(\S+)\s*\|")
_SECOND_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\S+)\s*\|\s*\S+\s+(\d+)\s*/\s*(\d+)\s+(\d+)\s*/\s*(\d+)\s*\|")
_KEY_VALUE = re.compile(r"^\s*([^:]+?)\s*:\s*(.*?)\s*$")


class _Row(NamedTuple):
    """One NPU of the summary table."""

    npu_id: int
    name: str
    health: str
    bus: str
    memory_mib: int


class AscendBackend:
    """Discovers Ascend NPUs by running ``tool`` (``npu-smi``)."""

    def __init__(self, tool: Path = DEFAULT_NPU_SMI) -> None:
        self._tool = tool

    @property
    def vendor(self) -> str:
        return ASCEND_VENDOR

    def discover(self) -> list[AcceleratorDevice]:
        summary = run_tool(self._tool, ["info"], vendor=ASCEND_VENDOR)
        version_text, rows = self._parse_summary(summary)
        devices = []
        for row in rows:
            devices.append(self._device(row, self._board(row.npu_id), version_text))
        return sorted(devices, key=lambda d: d.index)

    def _parse_summary(self, text: str) -> tuple[str | None, list[_Row]]:
        version: str | None = None
        rows: list[_Row] = []
        pending: tuple[int, str, str] | None = None
        for line in text.splitlines():
            if "Process id" in line:
                break
            found = _VERSION.search(line)
            if found and version is None:
                version = found.group(1)
                continue
            if not line.startswith("|") or line.startswith("+") or "Name" in line or "Bus-Id" in line:
                continue
            if pending is None:
                first = _FIRST_ROW.match(line)
                if first is None:
                    raise parse_error(self._tool, line, "expected an NPU row '| <id> <name> | <health> |'")
                pending = (int(first.group(1)), first.group(2), first.group(3))
                continue
            second = _SECOND_ROW.match(line)
            if second is None:
                raise parse_error(
                    self._tool, line, "expected a chip row '| <chip> | <bus id> | <aicore> <mem> <hbm> |'"
                )
            hbm_total, memory_total = int(second.group(6)), int(second.group(4))
            rows.append(_Row(*pending, second.group(2), hbm_total or memory_total))
            pending = None
        if pending is not None:
            raise BackendError(f"cannot parse the output of {self._tool}: NPU {pending[0]} has no chip row")
        if not rows:
            raise BackendError(f"cannot parse the output of {self._tool} info: it lists no NPU")
        return version, rows

    def _board(self, npu_id: int) -> dict[str, str]:
        text = run_tool(self._tool, ["info", "-t", "board", "-i", str(npu_id)], vendor=ASCEND_VENDOR)
        values: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            match = _KEY_VALUE.match(line)
            if match is None:
                raise parse_error(self._tool, line, f"board info of NPU {npu_id}: expected 'Key : Value'")
            values[match.group(1)] = match.group(2)
        if not values.get("Serial Number") or values["Serial Number"] == "NA":
            raise BackendError(f"{self._tool} info -t board -i {npu_id} reports no Serial Number")
        return values

    def _device(self, row: _Row, board: dict[str, str], version_text: str | None) -> AcceleratorDevice:
        npu_id, name, health, bus, memory_mib = row
        if memory_mib <= 0:
            raise BackendError(f"{self._tool} reports no memory for NPU {npu_id} ({name})")
        extra: dict[str, AttributeValue] = {}
        if name in AI_CORES:
            cores, cpus = AI_CORES[name]
            extra["aiCore"] = cores
            if cpus:
                extra["aiCpu"] = cpus
        text = board.get("Software Version") or version_text
        version = optional_version(text, what=f"NPU {npu_id}") if text else None
        return AcceleratorDevice(
            name=f"npu-{npu_id}",
            index=npu_id,
            uuid=board["Serial Number"],
            vendor=ASCEND_VENDOR,
            device_type="npu",
            product_name=name if name.startswith("Ascend") else f"Ascend{name}",
            memory_bytes=memory_mib * MIB,
            driver_version=version,
            pci_bus_id=pci_bus_id(board.get("PCIe Bus Info", bus)) or pci_bus_id(bus),
            extra_attributes=extra,
            healthy=health == "OK",
            health_message="" if health == "OK" else f"npu-smi reports health {health}",
        )
