"""The kinds hdra uses, described once: model, API group, scope and the client's method names.

Owns: :class:`KindSpec` (from whose ``stem`` every method name of the official client derives),
the table of kinds (ResourceSlice, DeviceClass, Node, Namespace, ResourceClaim,
ResourceClaimTemplate, Event, Pod),
:class:`ObjectList` and the metadata helpers. It must never make a call: :mod:`.resources`
implements the verbs once on top of these descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar
from urllib.parse import quote

from kubernetes.client import (
    CoreV1Event,
    ResourceV1ResourceClaim,
    V1DeviceClass,
    V1Namespace,
    V1Node,
    V1ObjectMeta,
    V1Pod,
    V1ResourceClaimTemplate,
    V1ResourceSlice,
)


class KubeObject(Protocol):
    """What every top-level model of the official client has."""

    @property
    def metadata(self) -> V1ObjectMeta | None: ...


T = TypeVar("T", bound=KubeObject)

Verb = Literal[
    "read", "list", "list_all", "create", "replace", "replace_status", "delete", "delete_collection"
]


@dataclass(frozen=True)
class KindSpec(Generic[T]):
    """One kind as the official client exposes it.

    ``stem`` is the snake-case name in the client's method names: ``read_resource_slice``,
    ``list_namespaced_resource_claim``, ``list_resource_claim_for_all_namespaces``,
    ``replace_namespaced_resource_claim_status`` and so on all derive from it.
    """

    kind: str
    model: type[T]
    api: Literal["core", "resource"]
    stem: str
    namespaced: bool
    plural: str
    has_status: bool = False
    collection_delete: bool = True  # Namespaces have no delete-collection verb

    @property
    def group_version(self) -> str:
        return "v1" if self.api == "core" else "resource.k8s.io/v1"

    def object_path(self, namespace: str | None, name: str) -> str:
        """The REST path of one object: ``/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/x``."""
        root = "/api/v1" if self.api == "core" else f"/apis/{self.group_version}"
        scope = f"/namespaces/{quote(namespace, safe='')}" if self.namespaced and namespace else ""
        return f"{root}{scope}/{self.plural}/{quote(name, safe='')}"

    def method_names(self) -> dict[Verb, str]:
        stem = self.stem
        if not self.namespaced:
            cluster: dict[Verb, str] = {
                "read": f"read_{stem}",
                "list": f"list_{stem}",
                "create": f"create_{stem}",
                "replace": f"replace_{stem}",
                "delete": f"delete_{stem}",
            }
            if self.collection_delete:
                cluster["delete_collection"] = f"delete_collection_{stem}"
            return cluster
        names: dict[Verb, str] = {
            "read": f"read_namespaced_{stem}",
            "list": f"list_namespaced_{stem}",
            "list_all": f"list_{stem}_for_all_namespaces",
            "create": f"create_namespaced_{stem}",
            "replace": f"replace_namespaced_{stem}",
            "delete": f"delete_namespaced_{stem}",
            "delete_collection": f"delete_collection_namespaced_{stem}",
        }
        if self.has_status:
            names["replace_status"] = f"replace_namespaced_{stem}_status"
        return names


@dataclass(frozen=True)
class ObjectList(Generic[T]):
    """A list result: the items and the collection's resourceVersion (the point to watch from)."""

    items: tuple[T, ...]
    resource_version: str


def object_meta(obj: KubeObject, kind: str) -> V1ObjectMeta:
    """The object's metadata, or a ValueError naming the kind when it has none."""
    if obj.metadata is None:
        raise ValueError(f"{kind} object has no metadata")
    return obj.metadata


def object_name(obj: KubeObject, kind: str) -> str:
    name = object_meta(obj, kind).name
    if not name:
        raise ValueError(f"{kind} object has no metadata.name")
    return name


# The kinds hdra uses. The official client's method names derive from ``stem`` (see KindSpec).
RESOURCE_SLICE = KindSpec(
    "ResourceSlice", V1ResourceSlice, "resource", "resource_slice", namespaced=False, plural="resourceslices"
)
DEVICE_CLASS = KindSpec(
    "DeviceClass", V1DeviceClass, "resource", "device_class", namespaced=False, plural="deviceclasses"
)
NODE = KindSpec("Node", V1Node, "core", "node", namespaced=False, plural="nodes")
NAMESPACE = KindSpec(
    "Namespace",
    V1Namespace,
    "core",
    "namespace",
    namespaced=False,
    plural="namespaces",
    collection_delete=False,
)
RESOURCE_CLAIM = KindSpec(
    "ResourceClaim",
    ResourceV1ResourceClaim,
    "resource",
    "resource_claim",
    namespaced=True,
    plural="resourceclaims",
    has_status=True,
)
RESOURCE_CLAIM_TEMPLATE = KindSpec(
    "ResourceClaimTemplate",
    V1ResourceClaimTemplate,
    "resource",
    "resource_claim_template",
    namespaced=True,
    plural="resourceclaimtemplates",
)
EVENT = KindSpec("Event", CoreV1Event, "core", "event", namespaced=True, plural="events")
POD = KindSpec("Pod", V1Pod, "core", "pod", namespaced=True, plural="pods")
