"""Nodes of the simulated cluster and node selection, as the allocator matches slices and devices.

Owns: ``Node`` (a name and labels) and ``node_matches`` (d-r-a ``NodeMatches``: a node name
matches that node only, ``allNodes`` every node, a ``nodeSelector`` through core/v1 node affinity
(component-helpers ``nodeaffinity``): terms are ORed, an empty term matches nothing, label
requirements In/NotIn/Exists/DoesNotExist/Gt/Lt, field requirements on ``metadata.name`` In/NotIn).
A malformed selector raises ``NodeSelectorError`` (the allocator turns it into an error).
``selector_matches`` answers the same for an allocation's ``nodeSelector``. This module must never
look at devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_FIELD_OPERATORS = ("In", "NotIn")


class NodeSelectorError(ValueError):
    """A node selector that node affinity cannot parse."""


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_object(self) -> dict[str, Any]:
        """The Node object in API shape (labels and name are all the allocator reads)."""
        return {"metadata": {"name": self.name, "labels": dict(self.labels)}}


def node_matches(
    node: Node, node_name: str | None, all_nodes: bool, selector: Mapping[str, Any] | None
) -> bool:
    """Whether a slice (or a device with ``perDeviceNodeSelection``) is available on ``node``."""
    if node_name:
        return node.name == node_name
    if all_nodes:
        return True
    if selector is not None:
        return selector_matches(node, selector)
    return False


def selector_matches(node: Node, selector: Mapping[str, Any]) -> bool:
    """core/v1 NodeSelector semantics; NodeSelectorError when a term cannot be parsed."""
    terms = [
        t
        for t in selector.get("nodeSelectorTerms") or ()
        if t.get("matchExpressions") or t.get("matchFields")
    ]
    for term in terms:
        _check_term(term)
    return any(_term_matches(node, term) for term in terms)


def _check_term(term: Mapping[str, Any]) -> None:
    for requirement in term.get("matchExpressions") or ():
        operator = requirement.get("operator")
        values = list(requirement.get("values") or ())
        if operator not in _LABEL_OPERATORS:
            raise NodeSelectorError(
                f"Unsupported value: {operator!r}: supported values: {', '.join(_LABEL_OPERATORS)}"
            )
        if operator in ("In", "NotIn") and not values:
            raise NodeSelectorError(
                "values: Required value: for 'in', 'notin' operators, values set can't be empty"
            )
        if operator in ("Exists", "DoesNotExist") and values:
            raise NodeSelectorError(
                "values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )
        if operator in ("Gt", "Lt") and (len(values) != 1 or not _is_int(values[0])):
            raise NodeSelectorError(
                "values: Invalid value: for 'Gt', 'Lt' operators, exactly one integer value"
            )
    for requirement in term.get("matchFields") or ():
        operator = requirement.get("operator")
        if operator not in _FIELD_OPERATORS:
            raise NodeSelectorError(f"Unsupported value: {operator!r}: supported values: In, NotIn")
        if len(requirement.get("values") or ()) != 1:
            raise NodeSelectorError(
                "values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for "
                "node field selector"
            )
        if requirement.get("key") != "metadata.name":
            raise NodeSelectorError(
                f"key: Invalid value: {requirement.get('key')!r}: not a valid field selector key"
            )


def _is_int(text: Any) -> bool:
    try:
        int(str(text))
    except ValueError:
        return False
    return True


def _term_matches(node: Node, term: Mapping[str, Any]) -> bool:
    for requirement in term.get("matchExpressions") or ():
        key, operator = requirement.get("key"), requirement.get("operator")
        values = [str(v) for v in requirement.get("values") or ()]
        present = key in node.labels
        value = node.labels.get(key, "")
        if operator == "In" and not (present and value in values):
            return False
        if operator == "NotIn" and present and value in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator in ("Gt", "Lt"):
            if not present or not _is_int(value):
                return False
            left, right = int(value), int(values[0])
            if (operator == "Gt" and not left > right) or (operator == "Lt" and not left < right):
                return False
    for requirement in term.get("matchFields") or ():
        values = [str(v) for v in requirement.get("values") or ()]
        inside = node.name in values
        if (requirement.get("operator") == "In") != inside:
            return False
    return True
