"""The README is true of a fresh clone (issue 18 item 20): its links resolve inside the repository,
its tables render as tables, and what it lists (mock profiles, the demo's nodes) is what the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dra_driver.cli.demo import MOCK_NODES
from dra_driver.devices.mock import MOCK_PROFILES

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "examples" / "README.md", ROOT / "charts" / "hdra" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(document: Path) -> None:
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert broken == [], f"{document.name}: links that do not resolve in a clone: {broken}"


def test_no_part_is_announced_for_a_later_issue() -> None:
    assert "later issue" not in (ROOT / "README.md").read_text()


def test_every_table_row_belongs_to_a_table() -> None:
    """A blank line ends a Markdown table: rows after it render as text unless a new header starts."""
    lines = (ROOT / "README.md").read_text().splitlines()
    in_code = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("|") or number == 0:
            continue
        if not lines[number - 1].startswith("|"):
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert re.match(r"\|[\s:|-]+\|$", following), f"README line {number + 1} is a row outside a table"


def test_the_mock_profiles_listed_are_the_backend_profiles() -> None:
    text = (ROOT / "README.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| Device discovery: mock profiles")]
    listed = re.findall(r"`([a-z0-9]+)`", row.split(";", 1)[0])
    assert listed == list(MOCK_PROFILES)


def test_the_demo_is_described_with_the_nodes_it_runs() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text[text.index("### `hdra demo`") :]
    assert f"{NUMBERS[len(MOCK_NODES)]} simulated nodes" in section
    for _node, profile, driver in MOCK_NODES:
        assert f"`{profile}`" in section and f"`{driver}`" in section
