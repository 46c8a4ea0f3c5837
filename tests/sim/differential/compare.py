"""Asking hdra's allocator the oracle's question, and comparing the two answers.

Owns: ``oracle_case`` (the JSON the oracle reads), ``hdra_answer`` (the same question to
``ClusterState.allocate``, in the oracle's answer shape) and ``disagreement`` (None when the
answers agree, else what differs). Agreement: the same outcome (allocated / unsatisfiable /
error); an error is node-local on both sides or on neither, and hdra's message starts with the
oracle's (up to the CEL engine's own detail, which differs between cel-go and hdra's engine); an
allocation has, per claim, the same devices in the same order with the same request, admin access,
tolerations, shared-or-not, consumed capacity (by value), binding conditions, config and node
selector. Share IDs are random on both sides and only compared for presence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dra_driver.kube.quantity import parse_quantity
from dra_driver.sim import ClusterState
from dra_driver.sim.gates import FeatureGates

NODE = "n1"
_CEL_DETAIL = re.compile(r"(CEL (?:runtime|compile) error: ).*", re.DOTALL)


def oracle_case(case: Mapping[str, Any], case_id: str) -> dict[str, Any]:
    gates: FeatureGates = case["gates"]
    return {"id": case_id, **{k: v for k, v in case.items() if k != "gates"}, "gates": gates.as_dict()}


def hdra_answer(case: Mapping[str, Any]) -> dict[str, Any]:
    state = ClusterState(
        case["slices"],
        case["classes"],
        claims=case["allocatedClaims"],
        nodes=[case["node"]],
        gates=case["gates"],
        seed=1,
    )
    outcome = state.allocate(case["claims"], NODE)
    answer: dict[str, Any] = {"outcome": outcome.outcome}
    if outcome.outcome == "allocated":
        answer["results"] = outcome.allocations
    if outcome.outcome == "error":
        answer["error"] = outcome.error
        answer["nodeLocal"] = outcome.node_local
    return answer


def _error_head(message: str) -> str:
    return _CEL_DETAIL.sub(r"\1", message)


def _quantities(values: Mapping[str, Any] | None) -> dict[str, Decimal]:
    return {name: parse_quantity(str(value)) for name, value in (values or {}).items()}


def _result(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "request": result.get("request"),
        "device": (result.get("driver"), result.get("pool"), result.get("device")),
        "adminAccess": bool(result.get("adminAccess")),
        "tolerations": [
            {k: v for k, v in t.items() if v not in ("", None)} for t in result.get("tolerations") or ()
        ],
        "shared": bool(result.get("shareID")),
        "consumedCapacity": _quantities(result.get("consumedCapacity")),
        "bindingConditions": list(result.get("bindingConditions") or ()),
        "bindingFailureConditions": list(result.get("bindingFailureConditions") or ()),
    }


def _allocation(allocation: Mapping[str, Any]) -> dict[str, Any]:
    devices = allocation.get("devices") or {}
    return {
        "results": [_result(r) for r in devices.get("results") or ()],
        "config": list(devices.get("config") or ()),
        "nodeSelector": allocation.get("nodeSelector") or None,
    }


def disagreement(oracle: Mapping[str, Any], hdra: Mapping[str, Any]) -> str | None:
    if oracle["outcome"] != hdra["outcome"]:
        return (
            f"outcome: oracle {oracle['outcome']} ({oracle.get('error', '')}), "
            f"hdra {hdra['outcome']} ({hdra.get('error', '')})"
        )
    if oracle["outcome"] == "error":
        if bool(oracle.get("nodeLocal")) != bool(hdra.get("nodeLocal")):
            return f"node-local: oracle {oracle.get('nodeLocal')}, hdra {hdra.get('nodeLocal')}"
        head = _error_head(str(oracle.get("error")))
        if not str(hdra.get("error")).startswith(head):
            return f"error text: oracle {oracle.get('error')!r}, hdra {hdra.get('error')!r}"
        return None
    if oracle["outcome"] == "allocated":
        ours = [_allocation(a) for a in hdra.get("results") or ()]
        theirs = [_allocation(a) for a in oracle.get("results") or ()]
        if ours != theirs:
            return f"allocation:\n  oracle {theirs}\n  hdra   {ours}"
    return None
