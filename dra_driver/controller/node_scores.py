"""Node-level scheduling policy: the kube-scheduler extender's ``prioritize`` wire format and scores.

Wire format, as followed from upstream ``k8s.io/kube-scheduler/extender/v1/types.go``
(kubernetes/kubernetes ``staging/src/k8s.io/kube-scheduler/extender/v1/types.go``) and the
sender ``pkg/scheduler/extender.go`` (``HTTPExtender.Prioritize`` / ``send``):

* the request body is ``json.Marshal(ExtenderArgs)``; the Go types carry no JSON tags, so the keys
  are the Go field names ``Pod`` (a v1.Pod), ``Nodes`` (a v1.NodeList, when the extender is not
  ``nodeCacheCapable``) and ``NodeNames`` (a list of names, when it is). Go's decoder matches keys
  case-insensitively, and older schedulers (``pkg/scheduler/api``) sent ``pod``/``nodes``/
  ``nodenames``: keys are therefore matched the same way here;
* the answer is a ``HostPriorityList``: ``[{"Host": <node>, "Score": <int64>}]``, scores in
  ``MinExtenderPriority``..``MaxExtenderPriority`` = 0..10; the scheduler multiplies them by
  ``MaxNodeScore / MaxExtenderPriority`` and the extender's weight.

Scores (documented decision, ``slices.usage.node_score``): with node usage ``u``
(``NodeUsage.score``, allocated / total memory of our cards), ``binpack = round(10 u)`` (fuller
nodes first) and ``spread = 10 - binpack``.
A node without our cards, and every node for a pod without ``spec.resourceClaims``, scores 0
under both policies: the extender then expresses no preference instead of pulling pods towards
nodes that cannot hold (or do not need) our devices.

This module is pure: it must never talk to the API or serve HTTP (``extender.py`` does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.rules import JsonInputError, load_json
from dra_driver.slices.usage import MAX_NODE_SCORE, NODE_POLICIES, NodePolicy, NodeUsage, node_score

__all__ = ["NODE_POLICIES", "NodePolicy", "node_score", "parse_extender_args", "prioritize"]
MIN_EXTENDER_PRIORITY = 0
MAX_EXTENDER_PRIORITY = MAX_NODE_SCORE


class ExtenderArgsError(ValueError):
    """The request body is not an ExtenderArgs; the message names the field and the value."""


@dataclass(frozen=True)
class ExtenderArgs:
    """The parts of a prioritize request hdra uses: the pod and the candidate node names, in order."""

    pod: dict[str, Any]
    node_names: list[str]


def _field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` as Go's decoder finds it: the exact key first, then any case-insensitive match."""
    if name in obj:
        return obj[name]
    folded = name.lower()
    for key, value in obj.items():
        if key.lower() == folded:
            return value
    return None


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_extender_args(body: bytes) -> ExtenderArgs:
    """Decode an ExtenderArgs body; ``NodeNames`` wins when both it and ``Nodes`` are set."""
    try:
        data = load_json(body)
    except JsonInputError as exc:
        raise ExtenderArgsError(str(exc)) from None
    if not isinstance(data, dict):
        raise ExtenderArgsError(f"ExtenderArgs must be a JSON object, got {_show(data)}")
    pod = _field(data, "Pod")
    if not isinstance(pod, dict):
        raise ExtenderArgsError(f"ExtenderArgs.Pod must be a Pod object, got {_show(pod)}")
    names = _field(data, "NodeNames")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ExtenderArgsError(
                f"ExtenderArgs.NodeNames must be a list of node names, got {_show(names)}"
            )
        return ExtenderArgs(pod=pod, node_names=list(names))
    nodes = _field(data, "Nodes")
    if nodes is None:
        raise ExtenderArgsError("ExtenderArgs has neither NodeNames nor Nodes: no candidate nodes to score")
    items = _field(nodes, "items") if isinstance(nodes, dict) else None
    if not isinstance(items, list):
        raise ExtenderArgsError(f"ExtenderArgs.Nodes must be a NodeList with items, got {_show(nodes)}")
    node_names: list[str] = []
    for position, item in enumerate(items):
        meta = _field(item, "metadata") if isinstance(item, dict) else None
        name = _field(meta, "name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            raise ExtenderArgsError(
                f"ExtenderArgs.Nodes.items[{position}].metadata.name must be a node name, got {_show(item)}"
            )
        node_names.append(name)
    return ExtenderArgs(pod=pod, node_names=node_names)


def pod_has_claims(pod: Mapping[str, Any]) -> bool:
    """True when the pod references ResourceClaims (``spec.resourceClaims`` is not empty)."""
    spec = _field(dict(pod), "spec")
    claims = _field(spec, "resourceClaims") if isinstance(spec, dict) else None
    return isinstance(claims, list) and bool(claims)


def prioritize(
    args: ExtenderArgs, nodes: Mapping[str, NodeUsage], policy: NodePolicy
) -> list[dict[str, str | int]]:
    """The HostPriorityList for ``args``: one entry per candidate node, in the order given."""
    interested = pod_has_claims(args.pod)
    result: list[dict[str, str | int]] = []
    for name in args.node_names:
        usage = nodes.get(name)
        score = node_score(usage.score, policy) if interested and usage is not None else MIN_EXTENDER_PRIORITY
        result.append({"Host": name, "Score": score})
    return result
