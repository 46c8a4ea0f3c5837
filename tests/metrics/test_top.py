"""``hdra top --once`` against the dev cluster: cards with allocated vs total, claims under their card."""

from __future__ import annotations

import argparse
import io
import uuid
from pathlib import Path

from dra_driver.cli import top
from dra_driver.devcluster import DevCluster
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    top.add_parser(parser.add_subparsers())
    return parser.parse_args(["top", *argv])


def test_once_prints_cards_and_their_claims(node: Node, kubeconfig: Path) -> None:
    card = node.devices[0]
    consumed = {"memory": "20Gi", "cores": "25", "shares": "1"}
    create_allocated_claim(
        node.kube, ClaimSpec("trainer", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    out = io.StringIO()
    assert top.run(parse(["--kubeconfig", str(kubeconfig), "--once"]), out) == 0
    text = out.getvalue()
    assert top.CLEAR not in text
    lines = text.splitlines()
    card_line = next(line for line in lines if card.uuid in line)
    total_mib = card.memory_bytes // (1024 * 1024)
    assert f"20480/{total_mib}" in card_line and "25/100" in card_line
    claim_line = lines[lines.index(card_line) + 1]
    assert "default/trainer" in claim_line and "20480" in claim_line
    for other in node.devices[1:]:
        assert any(
            other.uuid in line and f"0/{other.memory_bytes // (1024 * 1024)}" in line for line in lines
        )


def test_once_without_published_cards_says_so(cluster: DevCluster, kubeconfig: Path) -> None:
    out = io.StringIO()
    assert top.run(parse(["--kubeconfig", str(kubeconfig), "--once"]), out) == 0
    assert out.getvalue() == "no cards published by the selected drivers\n"
