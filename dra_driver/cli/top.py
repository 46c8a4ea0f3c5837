"""``hdra top``: a refreshing terminal view of the cards and the claims allocated on them.

Each frame lists the cluster's ResourceSlices and ResourceClaims once and shows, per card (grouped
by node), the memory and cores allocated against what the card has, followed by one line per
claim holding part of it (``controller/metrics.py`` does the accounting, on top of
``controller/usage.py``, so the numbers are the scheduler's). With ``--metrics-url`` (each node
plugin's ``/metrics``) it adds the memory HAMi-core reports as actually used. Between frames the screen is
cleared with ANSI escapes; ``--once`` prints a single frame without them and exits.

It must never write to the API server.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

from dra_driver.cli.common import CommandError, format_table, open_client
from dra_driver.controller.metrics import ClusterAllocation, list_allocation
from dra_driver.kube import KubeClient, KubeError
from dra_driver.kube.quantity import MIB

CLEAR = "\x1b[H\x1b[2J"
HEADERS = ("NODE", "CARD / CLAIM", "MEMORY MiB", "MEM %", "USED MiB", "CORES", "CORES %", "CLAIMS")
USED_METRIC = "hami_vgpu_memory_used_bytes"  # the node plugin's per-claim, per-card actual use


@dataclass
class Used:
    """Actual memory use read from node plugins' metrics: per card uuid and per (claim, card uuid)."""

    cards: dict[str, int] = field(default_factory=dict)
    claims: dict[tuple[str, str], int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def scrape_used(urls: list[str], timeout: float = 3.0) -> Used:
    """Sum HAMi-core's used memory from each plugin's ``/metrics``; a dead endpoint is noted, not fatal."""
    used = Used()
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - operator-given URL
                text = answer.read().decode()
            families = list(text_string_to_metric_families(text))
        except (OSError, ValueError) as exc:
            used.problems.append(f"metrics from {url} unavailable: {exc}")
            continue
        for family in families:
            if family.name != USED_METRIC:
                continue
            for sample in family.samples:
                uuid = sample.labels.get("deviceuuid", "")
                claim = f"{sample.labels.get('namespace', '')}/{sample.labels.get('claim', '')}"
                used.cards[uuid] = used.cards.get(uuid, 0) + int(sample.value)
                used.claims[(claim, uuid)] = used.claims.get((claim, uuid), 0) + int(sample.value)
    return used


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("top", help="show cards and the claims allocated on them, refreshing")
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default: 2)")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument(
        "--driver",
        nargs="+",
        default=None,
        metavar="D",
        help="drivers to show (default: every *.hdra.io driver)",
    )
    parser.add_argument(
        "--metrics-url",
        action="append",
        default=None,
        metavar="URL",
        help="a node plugin's /metrics (repeatable): adds the memory HAMi-core reports as used",
    )
    parser.set_defaults(run=run)


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole > 0 else "-"


def render(state: ClusterAllocation, used: Used | None = None) -> str:
    """One frame: a card line per card, then its claims indented under it (USED from ``used``)."""
    used = used or Used()

    def mib(value: int | None) -> str:
        return "-" if value is None else str(value // MIB)

    by_card: dict[str, list[tuple[str, int, int]]] = {}
    for claim in state.claims:
        by_card.setdefault(claim.usage.card.uuid, []).append(
            (f"{claim.namespace}/{claim.name}", claim.usage.memory_bytes, claim.usage.cores)
        )
    rows: list[tuple[object, ...]] = []
    cards = sorted(state.cards.values(), key=lambda u: (u.card.node or "", u.card.uuid))
    for usage in cards:
        card = usage.card
        rows.append(
            (
                card.node or "-",
                card.name or card.uuid,
                f"{usage.memory_bytes // MIB}/{card.memory_bytes // MIB}",
                _percent(usage.memory_bytes, card.memory_bytes),
                mib(used.cards.get(card.uuid)),
                f"{usage.cores}/{card.cores}",
                _percent(usage.cores, card.cores),
                usage.allocations,
            )
        )
        for name, memory, cores in by_card.get(card.uuid, []):
            rows.append(
                (
                    "",
                    f"  {name}",
                    str(memory // MIB),
                    _percent(memory, card.memory_bytes),
                    mib(used.claims.get((name, card.uuid))),
                    str(cores),
                    "",
                    "",
                )
            )
    if not rows:
        return "no cards published by the selected drivers\n"
    allocated = sum(u.memory_bytes for u in cards)
    total = sum(u.card.memory_bytes for u in cards)
    summary = (
        f"{len(cards)} card(s), {len(state.claims)} claim allocation(s); memory allocated "
        f"{allocated // MIB}/{total // MIB} MiB ({_percent(allocated, total)}%)"
    )
    notes = "".join(f"note: {problem}\n" for problem in used.problems)
    return f"{summary}\n{notes}\n{format_table(HEADERS, rows)}\n"


def frame(client: KubeClient, drivers: list[str] | None, metrics_urls: list[str] | None = None) -> str:
    try:
        state = list_allocation(client, drivers)
    except (KubeError, ValueError) as exc:
        raise CommandError(f"cannot list ResourceSlices and ResourceClaims: {exc}") from exc
    return render(state, scrape_used(metrics_urls) if metrics_urls else None)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    if args.interval <= 0:
        raise CommandError(f"--interval {args.interval} must be positive")
    for url in args.metrics_url or ():
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CommandError(
                f"--metrics-url {url}: only http:// and https:// URLs of a node plugin are read"
            )
    client = open_client(args.kubeconfig)
    try:
        if args.once:
            stream.write(frame(client, args.driver, args.metrics_url))
            return 0
        while True:
            text = frame(client, args.driver, args.metrics_url)
            stream.write(f"{CLEAR}{time.strftime('%H:%M:%S')}  hdra top (every {args.interval:g}s)\n{text}")
            stream.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()
