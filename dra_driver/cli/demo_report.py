"""Rendering the demo's result: one table per pod, a per-card view, and the ``--json`` document.

Owns the output formats only; the numbers come from ``demo_run``. The JSON shape is a contract
(issue "allocator"): ``{"pods": [{"namespace", "name", "node", "ties", "status", "reason", "claims": [{"name",
"driver", "devices": [{"pool", "device", "shareID", "memoryMiB", "coresPercent"}], "env"}]}],
"cards": [{"node", "device", "productName", "memoryMiB", "memoryUsedMiB", "coresUsedPercent",
"claims"}]}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dra_driver.cli.common import format_table
from dra_driver.cli.demo_run import NAMESPACE, DemoRun, PodView
from dra_driver.kube.quantity import MIB
from dra_driver.sim import CardUse
from dra_driver.sim.placement import with_ties

_ENV_PREFIXES = (
    "CUDA_",
    "GPU_",
    "LIBCUDA_",
    "NVIDIA_",
    "NPU_",
    "ASCEND_",
    "CAMBRICON_",
    "HIP_",
    "ROCR_",
    "HSA_",
)
# Variables that only appear when a claim's limits are enforced (one per vendor mechanism).
_LIMIT_KEYS = (
    "CUDA_DEVICE_MEMORY_LIMIT",
    "NPU_MEM_QUOTA",
    "ASCEND_VNPU_SPECS",
    "CAMBRICON_SPLIT_MEMS",
    "HIP_DEVICE_MEMORY_LIMIT",
    "HSA_CU_MASK",
)
_BAR = 20


def render_json(run: DemoRun) -> dict[str, Any]:
    return {
        "pods": [
            {
                "namespace": NAMESPACE,
                "name": pod.name,
                "node": pod.node,
                "ties": pod.ties,
                "status": pod.status,
                "reason": pod.reason,
                "claims": [
                    {
                        "name": claim.name,
                        "driver": claim.driver,
                        "devices": [
                            {
                                "pool": d.pool,
                                "device": d.device,
                                "shareID": d.share_id,
                                "memoryMiB": d.memory_mib,
                                "coresPercent": d.cores_percent,
                            }
                            for d in claim.devices
                        ],
                        "env": claim.env,
                    }
                    for claim in pod.claims
                ],
            }
            for pod in run.pods
        ],
        "cards": [
            {
                "node": card.node,
                "device": card_name(card),
                "productName": card.product,
                "memoryMiB": _mib(card.memory_total),
                "memoryUsedMiB": _mib(card.memory_used),
                "coresUsedPercent": int(card.cores_used),
                "claims": sorted(card.claims),
            }
            for card in _sorted_cards(run.cards)
        ],
    }


def render_text(run: DemoRun) -> str:
    parts = [_pod_section(pod) for pod in run.pods]
    parts.append("Cards (memory and cores allocated; # = 5 %):")
    parts.append(_card_table(run.cards))
    running = sum(pod.status == "Running" for pod in run.pods)
    pending = sum(pod.status == "Pending" for pod in run.pods)
    parts.append(
        f"{running} pods running, {pending} pending, {len(run.pods) - running - pending} rejected or failed; "
        f"{len(run.nodes)} nodes, {len(run.cards)} cards; done in {run.seconds:.1f}s"
    )
    return "\n\n".join(parts)


def _pod_section(pod: PodView) -> str:
    title = f"pod {pod.name} — {pod.description}"
    if pod.status != "Running":
        first, *rest = pod.reason.splitlines() or [""]
        return "\n".join([title, f"  {pod.status}: {first}", *(f"    {line}" for line in rest)])
    rows = [
        [claim.name, d.device, d.memory_mib, d.cores_percent or "-", d.share_id[:8] or "-"]
        for claim in pod.claims
        for d in claim.devices
    ]
    table = format_table(["CLAIM", "DEVICE", "MEMORY MiB", "CORES %", "SHARE"], rows, text={"SHARE"})
    env = sorted(
        {(k, v) for claim in pod.claims for k, v in claim.env.items() if k.startswith(_ENV_PREFIXES)}
    )
    env_lines = [f"    {k}={v}" for k, v in env]
    if not any(k.startswith(_LIMIT_KEYS) for k, _ in env):
        env_lines.append("    (whole cards: no interception, no limits)")
    node = with_ties(pod.node, pod.ties)
    return "\n".join([f"{title}\n  node {node}", _indent(table), "  container env:", *env_lines])


def _card_table(cards: list[CardUse]) -> str:
    rows = []
    for card in _sorted_cards(cards):
        total, used = _mib(card.memory_total), _mib(card.memory_used)
        fraction = used / total if total else 0.0
        rows.append(
            [
                card.node,
                card_name(card),
                card.product,
                f"{used}/{total}",
                _bar(fraction),
                int(card.cores_used),
                len(card.claims),
            ]
        )
    return _indent(format_table(["NODE", "CARD", "PRODUCT", "MEMORY MiB", "USED", "CORES %", "CLAIMS"], rows))


def card_name(card: CardUse) -> str:
    """The card's own device name (``gpu-3``): the shortest of the devices published for it."""
    return min((d.name for d in card.devices), key=len, default=card.card)


def _sorted_cards(cards: list[CardUse]) -> list[CardUse]:
    def key(card: CardUse) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        parts = card_name(card).split("-")
        return card.node, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)

    return sorted(cards, key=key)


def _bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * _BAR)
    return "[" + "#" * filled + "." * (_BAR - filled) + "]"


def _mib(value: Decimal) -> int:
    return int(value) // MIB


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
