"""The kinds hdra uses, described once: model, API group, scope and REST paths.

Owns: :class:`KindSpec` (the model and where the kind lives in the REST API), the table of kinds
(ResourceSlice, DeviceClass, Node, Namespace, ResourceClaim, ResourceClaimTemplate, Event, Pod),
:class:`ObjectList` and the metadata helpers. It must never make a call: :mod:`.resources`
implements the verbs once on top of these descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar
from urllib.parse import quote

from .models import (
    DeviceClass,
    Event,
    KubeModel,
    Namespace,
    Node,
    ObjectMeta,
    Pod,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
)

T = TypeVar("T", bound=KubeModel)


@dataclass(frozen=True)
class KindSpec(Generic[T]):
    """One kind: its model, its API group/version, whether it is namespaced, and its resource name."""

    kind: str
    model: type[T]
    api: Literal["core", "resource"]
    namespaced: bool
    plural: str
    has_status: bool = False
    collection_delete: bool = True  # Namespaces have no delete-collection verb

    @property
    def group_version(self) -> str:
        return "v1" if self.api == "core" else "resource.k8s.io/v1"

    def collection_path(self, namespace: str | None) -> str:
        """``/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims``; all namespaces when None."""
        root = "/api/v1" if self.api == "core" else f"/apis/{self.group_version}"
        scope = f"/namespaces/{quote(namespace, safe='')}" if self.namespaced and namespace else ""
        return f"{root}{scope}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        """The REST path of one object: ``/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/x``."""
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"


@dataclass(frozen=True)
class ObjectList(Generic[T]):
    """A list result: the items and the collection's resourceVersion (the point to watch from)."""

    items: tuple[T, ...]
    resource_version: str


def object_meta(obj: KubeModel, kind: str) -> ObjectMeta:
    """The object's metadata (every top-level kind has the field), or a ValueError naming the kind."""
    meta = getattr(obj, "metadata", None)
    if not isinstance(meta, ObjectMeta):
        raise ValueError(f"{kind} object has no metadata")
    return meta


def object_name(obj: KubeModel, kind: str) -> str:
    name = object_meta(obj, kind).name
    if not name:
        raise ValueError(f"{kind} object has no metadata.name")
    return name


# The kinds hdra uses.
RESOURCE_SLICE = KindSpec(
    "ResourceSlice", ResourceSlice, "resource", namespaced=False, plural="resourceslices"
)
DEVICE_CLASS = KindSpec("DeviceClass", DeviceClass, "resource", namespaced=False, plural="deviceclasses")
NODE = KindSpec("Node", Node, "core", namespaced=False, plural="nodes")
NAMESPACE = KindSpec(
    "Namespace", Namespace, "core", namespaced=False, plural="namespaces", collection_delete=False
)
RESOURCE_CLAIM = KindSpec(
    "ResourceClaim", ResourceClaim, "resource", namespaced=True, plural="resourceclaims", has_status=True
)
RESOURCE_CLAIM_TEMPLATE = KindSpec(
    "ResourceClaimTemplate",
    ResourceClaimTemplate,
    "resource",
    namespaced=True,
    plural="resourceclaimtemplates",
)
EVENT = KindSpec("Event", Event, "core", namespaced=True, plural="events")
POD = KindSpec("Pod", Pod, "core", namespaced=True, plural="pods")
