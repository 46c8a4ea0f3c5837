"""Reading Kubernetes objects from YAML/JSON files for the simulator's commands.

Owns: ``load_objects`` (multi-document YAML, a JSON/YAML list, or a ``v1 List`` with ``items``) and
``by_kind`` (sorting objects into slices, classes, claims, claim templates, workloads and namespace
labels). Objects without a ``kind`` are recognised by shape (``spec.pool`` → ResourceSlice,
``spec.devices`` → claim).
This module must never talk to an API server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dra_driver.kube.messages import one_line
from dra_driver.sim.errors import AllocationError
from dra_driver.sim.workloads import POD_OWNERS


def load_objects(path: Path) -> list[dict[str, Any]]:
    """Every object in ``path``; AllocationError naming the file for unreadable or non-object content."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AllocationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise AllocationError(f"{path} is not UTF-8 text: {one_line(exc)}") from None
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        try:
            documents = [json.loads(text)]
        except json.JSONDecodeError:
            raise AllocationError(f"{path} is neither YAML nor JSON: {one_line(exc)}") from None
    objects: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        objects.extend(_flatten(document, f"{path} document {index + 1}"))
    return objects


def _flatten(document: Any, where: str) -> list[dict[str, Any]]:
    if document is None:
        return []
    if isinstance(document, list):
        return [obj for i, item in enumerate(document) for obj in _flatten(item, f"{where} item {i + 1}")]
    if not isinstance(document, dict):
        raise AllocationError(f"{where} is a {type(document).__name__}, not a Kubernetes object")
    if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
        return _flatten(document["items"], where)
    return [document]


@dataclass
class Objects:
    slices: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    """Node objects: their labels are what slices' and devices' node selectors match."""
    other: list[str] = field(default_factory=list)


def by_kind(objects: Iterable[Mapping[str, Any]]) -> Objects:
    """Sort objects by kind: Pods and the workloads of ``POD_OWNERS`` go to ``workloads`` (in order);
    other kinds are listed in ``other`` (as ``Kind/name``) so that callers can name what they ignore."""
    found = Objects()
    for obj in objects:
        kind = obj.get("kind")
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        if kind == "ResourceSlice" or (kind is None and "pool" in spec):
            found.slices.append(dict(obj))
        elif kind == "DeviceClass":
            found.classes.append(dict(obj))
        elif kind == "ResourceClaim" or (kind is None and "devices" in spec):
            found.claims.append(dict(obj))
        elif kind == "ResourceClaimTemplate":
            found.templates.append(dict(obj))
        elif kind == "Pod" or kind in POD_OWNERS:
            found.workloads.append(dict(obj))
        elif kind == "Namespace":
            found.namespaces[str(meta.get("name"))] = dict(meta.get("labels") or {})
        elif kind == "Node":
            found.nodes.append(dict(obj))
        else:
            found.other.append(f"{kind}/{meta.get('name')}")
    return found
