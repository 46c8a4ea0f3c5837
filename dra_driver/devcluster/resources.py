"""The table of kinds the dev cluster serves, and the discovery documents built from it.

Owns: group, version, plural, kind, scope, subresources, short names and the field selectors each
kind accepts upstream (k8s ``pkg/apis/core/v1/conversion.go``, ``pkg/apis/resource/v1/conversion.go``,
apimachinery ``DefaultMetaV1FieldSelectorConversion``), with the function that reads each field's
value from an object. It must never store objects or talk HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.devcluster.errors import bad_request

FieldGetter = Callable[[Mapping[str, Any]], str]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


def _path(*keys: str) -> FieldGetter:
    """Read a nested string field; a missing field reads as "" like an unset Go string."""

    def get(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            if not isinstance(value, Mapping):
                return ""
            value = value.get(key)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


def _bool_path(*keys: str) -> FieldGetter:
    """A Go bool field: unset reads as "false"."""
    inner = _path(*keys)
    return lambda obj: inner(obj) or "false"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    return str(status.get("podIP") or (ips[0].get("ip", "") if ips else ""))


def _pod_ips(obj: Mapping[str, Any]) -> str:
    return ",".join(str(ip.get("ip", "")) for ip in (obj.get("status") or {}).get("podIPs") or [])


_META: dict[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}


@dataclass(frozen=True)
class ResourceKind:
    """One served resource. ``field_selectors`` maps each accepted label to its value getter."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    field_selectors: Mapping[str, FieldGetter]
    field_error: Callable[[str], str]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    has_generation: bool = True
    initial_status: Mapping[str, Any] | None = None
    drop_status_on_create: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def field_getter(self, label: str) -> FieldGetter:
        """The getter for a field selector label, or the upstream 400 for an unsupported one."""
        getter = self.field_selectors.get(label)
        if getter is None:
            raise bad_request(self.field_error(label))
        return getter


def _resource_error(kind: str) -> Callable[[str], str]:
    return lambda label: f"field label not supported for resource.k8s.io/v1, Kind={kind}: {label}"


def _core_error(label: str) -> str:
    return f"field label not supported: {label}"


def _default_error(label: str) -> str:
    return f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


RESOURCES: tuple[ResourceKind, ...] = (
    ResourceKind(
        group="resource.k8s.io",
        version="v1",
        plural="resourceslices",
        kind="ResourceSlice",
        singular="resourceslice",
        namespaced=False,
        field_selectors={
            "metadata.name": _META["metadata.name"],
            "spec.nodeName": _path("spec", "nodeName"),
            "spec.driver": _path("spec", "driver"),
        },
        field_error=_resource_error("ResourceSlice"),
    ),
    ResourceKind(
        group="resource.k8s.io",
        version="v1",
        plural="deviceclasses",
        kind="DeviceClass",
        singular="deviceclass",
        namespaced=False,
        field_selectors=_META,
        field_error=_default_error,
    ),
    ResourceKind(
        group="resource.k8s.io",
        version="v1",
        plural="resourceclaims",
        kind="ResourceClaim",
        singular="resourceclaim",
        namespaced=True,
        field_selectors=_META,
        field_error=_default_error,
        status_subresource=True,
        drop_status_on_create=True,
    ),
    ResourceKind(
        group="resource.k8s.io",
        version="v1",
        plural="resourceclaimtemplates",
        kind="ResourceClaimTemplate",
        singular="resourceclaimtemplate",
        namespaced=True,
        field_selectors=_META,
        field_error=_default_error,
    ),
    ResourceKind(
        group="",
        version="v1",
        plural="nodes",
        kind="Node",
        singular="node",
        namespaced=False,
        field_selectors={
            "metadata.name": _META["metadata.name"],
            "spec.unschedulable": _bool_path("spec", "unschedulable"),
        },
        field_error=_core_error,
        short_names=("no",),
        status_subresource=True,
        has_generation=False,
    ),
    ResourceKind(
        group="",
        version="v1",
        plural="namespaces",
        kind="Namespace",
        singular="namespace",
        namespaced=False,
        field_selectors={"metadata.name": _META["metadata.name"], "status.phase": _path("status", "phase")},
        field_error=_core_error,
        short_names=("ns",),
        status_subresource=True,
        has_generation=False,
        initial_status={"phase": "Active"},
        drop_status_on_create=True,
    ),
    ResourceKind(
        group="",
        version="v1",
        plural="pods",
        kind="Pod",
        singular="pod",
        namespaced=True,
        field_selectors={
            **_META,
            "spec.nodeName": _path("spec", "nodeName"),
            "spec.restartPolicy": _path("spec", "restartPolicy"),
            "spec.schedulerName": _path("spec", "schedulerName"),
            "spec.serviceAccountName": _path("spec", "serviceAccountName"),
            "spec.hostNetwork": _bool_path("spec", "hostNetwork"),
            "status.phase": _path("status", "phase"),
            "status.podIP": _pod_ip,
            "status.podIPs": _pod_ips,
            "status.nominatedNodeName": _path("status", "nominatedNodeName"),
        },
        field_error=_core_error,
        short_names=("po",),
        categories=("all",),
        status_subresource=True,
        initial_status={"phase": "Pending"},
        drop_status_on_create=True,
    ),
    ResourceKind(
        group="",
        version="v1",
        plural="events",
        kind="Event",
        singular="event",
        namespaced=True,
        field_selectors={
            **_META,
            **{
                f"involvedObject.{key}": _path("involvedObject", key)
                for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
            },
            "reason": _path("reason"),
            "reportingComponent": _path("reportingComponent"),
            "source": _path("source", "component"),
            "type": _path("type"),
        },
        field_error=_core_error,
        short_names=("ev",),
        has_generation=False,
    ),
)

_BY_PATH: dict[tuple[str, str, str], ResourceKind] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[str, ResourceKind] = {r.kind: r for r in RESOURCES}
NAMESPACES = _BY_PATH[("", "v1", "namespaces")]
NODES = _BY_PATH[("", "v1", "nodes")]


def lookup(group: str, version: str, plural: str) -> ResourceKind | None:
    return _BY_PATH.get((group, version, plural))


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    """The ``APIResourceList`` for one group-version (what ``kubectl api-resources`` reads)."""
    group_version = f"{group}/{version}" if group else version
    resources: list[dict[str, Any]] = []
    for res in RESOURCES:
        if (res.group, res.version) != (group, version):
            continue
        entry: dict[str, Any] = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(VERBS),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        if res.status_subresource:
            resources.append(
                {
                    "name": f"{res.plural}/status",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": res.kind,
                    "verbs": list(SUBRESOURCE_VERBS),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def api_versions() -> dict[str, Any]:
    """``/api``: the legacy core group."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group(group: str) -> dict[str, Any]:
    versions = sorted({r.version for r in RESOURCES if r.group == group})
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_group_list() -> dict[str, Any]:
    groups = sorted({r.group for r in RESOURCES if r.group})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(g) for g in groups]}
