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
    # issue 18 item 19: cards are named as demo and simulate name them (gpu-0), not by UUID
    card_line = next(line for line in lines if f" {card.name} " in line)
    total_mib = card.memory_bytes // (1024 * 1024)
    assert f"20480/{total_mib}" in card_line and "25/100" in card_line
    claim_line = lines[lines.index(card_line) + 1]
    assert "default/trainer" in claim_line and "20480" in claim_line
    for other in node.devices[1:]:
        assert any(
            f" {other.name} " in line and f"0/{other.memory_bytes // (1024 * 1024)}" in line for line in lines
        )


def test_once_without_published_cards_says_so(cluster: DevCluster, kubeconfig: Path) -> None:
    out = io.StringIO()
    assert top.run(parse(["--kubeconfig", str(kubeconfig), "--once"]), out) == 0
    assert out.getvalue() == "no cards published by the selected drivers\n"


def test_used_memory_comes_from_the_plugins_metrics(node: Node, kubeconfig: Path) -> None:
    """--metrics-url adds HAMi-core's reported use per card and claim; a dead endpoint is a note."""
    import http.server
    import threading

    card = node.devices[0]
    consumed = {"memory": "20Gi", "cores": "25", "shares": "1"}
    create_allocated_claim(
        node.kube, ClaimSpec("trainer", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    exposition = (
        "# TYPE hami_vgpu_memory_used_bytes gauge\n"
        f'hami_vgpu_memory_used_bytes{{namespace="default",claim="trainer",deviceuuid="{card.uuid}"}} '
        f"{3 * 1024**3}\n"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(exposition)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        out = io.StringIO()
        argv = [
            "--kubeconfig",
            str(kubeconfig),
            "--once",
            "--metrics-url",
            url,
            "--metrics-url",
            "http://127.0.0.1:9/x",
        ]
        assert top.run(parse(argv), out) == 0
    finally:
        server.shutdown()
        server.server_close()
    lines = out.getvalue().splitlines()
    # issue 18 item 19: cards are named as demo and simulate name them (gpu-0), not by UUID
    card_line = next(line for line in lines if f" {card.name} " in line)
    assert " 3072 " in f" {card_line} "
    claim_line = lines[lines.index(card_line) + 1]
    assert "default/trainer" in claim_line and " 3072 " in f" {claim_line} "
    assert any(line.startswith("note: metrics from http://127.0.0.1:9/x unavailable") for line in lines)
