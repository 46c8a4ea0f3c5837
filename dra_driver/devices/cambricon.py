"""The Cambricon backend: discovers MLU cards with ``cnmon info`` (path from ``--cambricon-tool``).

Owns: ``CambriconBackend`` and the parsing of ``cnmon info``'s indented text (the tool has no
JSON mode): a ``Card <n>`` line starts each card; ``Key : Value`` lines follow; a line without a
colon (``PCIe Info``, ``Physical Memory Usage``) opens a section whose more-indented keys are read
as ``<section>/<key>``. Used: ``Product Name``, ``UUID``, ``Driver Version``, ``PCIe Info/{Domain
ID,Bus Num,Device,Function}`` and ``Physical Memory Usage/Total`` (``<n> MiB``).

Cores: SMLU shares a card by percent of its vcores, so no core count is needed or published
(``cnmon info`` prints none). It must never publish a non-semver version or a partial list.
"""

from __future__ import annotations

import re
from pathlib import Path

from dra_driver.devices.base import AcceleratorDevice, BackendError
from dra_driver.devices.tools import optional_version, parse_error, pci_bus_id, run_tool

CAMBRICON_VENDOR = "cambricon"
DEFAULT_CNMON = Path("/usr/bin/cnmon")
MIB = 1024 * 1024

_CARD = re.compile(r"^Card\s+(\d+)\s*$")
_KEY_VALUE = re.compile(r"^(\s*)([^:]+?)\s*:\s*(.*?)\s*$")
_MEMORY = re.compile(r"(\d+)\s*MiB")


class CambriconBackend:
    """Discovers Cambricon MLUs by running ``tool`` (``cnmon``)."""

    def __init__(self, tool: Path = DEFAULT_CNMON) -> None:
        self._tool = tool

    @property
    def vendor(self) -> str:
        return CAMBRICON_VENDOR

    def discover(self) -> list[AcceleratorDevice]:
        cards = self._parse(run_tool(self._tool, ["info"], vendor=CAMBRICON_VENDOR))
        if not cards:
            raise BackendError(f"cannot parse the output of {self._tool} info: it lists no card")
        return sorted((self._device(index, values) for index, values in cards.items()), key=lambda d: d.index)

    def _parse(self, text: str) -> dict[int, dict[str, str]]:
        cards: dict[int, dict[str, str]] = {}
        current: dict[str, str] | None = None
        section, section_indent = "", -1
        for line in text.splitlines():
            if not line.strip():
                continue
            card = _CARD.match(line.strip())
            if card is not None:
                current = cards.setdefault(int(card.group(1)), {})
                section, section_indent = "", -1
                continue
            if current is None:
                continue  # banner lines before the first card
            indent = len(line) - len(line.lstrip())
            if indent <= section_indent:
                section, section_indent = "", -1
            match = _KEY_VALUE.match(line)
            if match is None:
                if ":" in line:
                    raise parse_error(self._tool, line, "expected 'Key : Value'")
                section, section_indent = line.strip(), indent
                continue
            key = f"{section}/{match.group(2)}" if section else match.group(2)
            current[key] = match.group(3)
        return cards

    def _device(self, index: int, values: dict[str, str]) -> AcceleratorDevice:
        def need(key: str) -> str:
            value = values.get(key, "")
            if not value or value == "N/A":
                raise BackendError(f"{self._tool} info reports no {key!r} for card {index}")
            return value

        total = need("Physical Memory Usage/Total")
        memory = _MEMORY.fullmatch(total)
        if memory is None or int(memory.group(1)) <= 0:
            raise parse_error(self._tool, f"Total : {total}", f"card {index} memory is not '<n> MiB'")
        bus_id = None
        try:
            domain = int(values.get("PCIe Info/Domain ID", "0"), 0)
            bus = int(need("PCIe Info/Bus Num"), 16)
            dev = int(values.get("PCIe Info/Device", "0"), 16)
            fn = int(values.get("PCIe Info/Function", "0"), 16)
            bus_id = pci_bus_id(f"{domain:04x}:{bus:02x}:{dev:02x}.{fn}")
        except (BackendError, ValueError):
            bus_id = None  # optional: the card stays usable without a PCI address
        version_text = values.get("Driver Version", "")
        return AcceleratorDevice(
            name=f"mlu-{index}",
            index=index,
            uuid=need("UUID"),
            vendor=CAMBRICON_VENDOR,
            device_type="mlu",
            product_name=need("Product Name"),
            memory_bytes=int(memory.group(1)) * MIB,
            driver_version=optional_version(version_text, what=f"MLU {index}") if version_text else None,
            pci_bus_id=bus_id,
        )
