"""REST semantics of the dev cluster: what create, update, patch and delete do to an object.

Owns: the upstream registry strategies (``k8s.io/apiserver`` ``pkg/registry/rest`` and the
per-kind strategies) — server-set uid / creationTimestamp / generation, ``generateName``,
optimistic concurrency (409 Conflict), status subresource rules, no-op updates that keep the RV
and emit nothing, finalizers and ``deletionTimestamp``, feature-gate field dropping, semantic and
schema validation (422 Invalid) and namespace existence. Every read-modify-write runs under the
store lock. It must never parse HTTP or encode responses.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dra_driver.devcluster import errors, gates, resource_rules, semantic
from dra_driver.devcluster.errors import ApiError, Cause
from dra_driver.devcluster.normalize import normalize
from dra_driver.devcluster.patch import apply_patch, patch_media_type
from dra_driver.devcluster.resources import NAMESPACES, ResourceKind
from dra_driver.devcluster.schema import validator
from dra_driver.devcluster.selectors import Selection
from dra_driver.devcluster.smp import PatchMeta
from dra_driver.devcluster.store import ADDED, DELETED, MODIFIED, Entry, Key, Store, encode
from dra_driver.kube.features import FeatureGate, KubeVersion

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream utilrand.String alphabet (no vowels)
_SYSTEM_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def storage_key(resource: ResourceKind) -> str:
    return f"{resource.plural}.{resource.group}"


class Registry:
    """API semantics over a ``Store`` for one Kubernetes version and feature-gate set."""

    def __init__(self, store: Store, version: KubeVersion, feature_gates: Mapping[FeatureGate, bool]) -> None:
        self.store = store
        self.version = version
        self.gates = dict(feature_gates)

    # ---- reads -------------------------------------------------------------------------------

    def get(self, resource: ResourceKind, namespace: str, name: str) -> Entry:
        entry = self.store.get(storage_key(resource), (namespace, name))
        if entry is None:
            raise errors.not_found(resource.plural, resource.group, name)
        return entry

    def list_objects(
        self, resource: ResourceKind, namespace: str | None, selection: Selection
    ) -> tuple[int, list[Entry]]:
        with self.store.lock:
            entries = self.store.entries(storage_key(resource), namespace)
            rv = self.store.current_rv
        if not selection.everything:
            entries = [e for e in entries if selection.matches(e.obj)]
        return rv, entries

    # ---- writes ------------------------------------------------------------------------------

    def create(self, resource: ResourceKind, namespace: str, body: Any, *, dry_run: bool = False) -> Entry:
        """POST. With ``dry_run`` (``?dryRun=All``) every check runs and fields are dropped as for a
        real create, but nothing is stored and no resourceVersion is consumed."""
        obj = self._checked_body(resource, namespace, body, url_name=None)
        normalize(resource.kind, obj)  # quantities and defaults, as the real server decodes them
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.internal("resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    resource.kind,
                    resource.group,
                    "",
                    [semantic.required("metadata.name", "name or generateName is required")],
                )
            meta["name"] = prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
        for system_field in (*_SYSTEM_META, "managedFields", "selfLink"):
            meta.pop(system_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if resource.has_generation:
            meta["generation"] = 1
        if resource.drop_status_on_create:
            obj.pop("status", None)
            if resource.initial_status is not None:
                obj["status"] = copy.deepcopy(dict(resource.initial_status))
        gates.drop_disabled_fields(resource.kind, obj, None, self.gates)
        self._validate(resource, obj, None)
        key = (namespace if resource.namespaced else "", meta["name"])
        with self.store.lock:
            if resource.namespaced and self.store.get(storage_key(NAMESPACES), ("", namespace)) is None:
                raise errors.not_found("namespaces", "", namespace)
            if self.store.get(storage_key(resource), key) is not None:
                raise errors.already_exists(resource.plural, resource.group, meta["name"])
            if dry_run:
                return Entry(obj, encode(obj), self.store.current_rv)
            return self.store.write(storage_key(resource), key, obj, ADDED)

    def update(self, resource: ResourceKind, namespace: str, name: str, body: Any, *, status: bool) -> Entry:
        """PUT: ``body`` must carry the current RV or none (unconditional)."""
        obj = self._checked_body(resource, namespace, body, url_name=name)
        with self.store.lock:
            current = self.get(resource, namespace, name)
            return self._commit_update(resource, current, obj, status)

    def patch(
        self,
        resource: ResourceKind,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        *,
        status: bool,
    ) -> Entry:
        patch_media_type(content_type)  # 415 comes before any lookup, as upstream
        meta = PatchMeta.for_kind(self.version, resource.api_version, resource.kind)
        with self.store.lock:
            current = self.get(resource, namespace, name)
            patched = apply_patch(content_type, body, current.copy(), meta)
            obj = self._checked_body(resource, namespace, patched, url_name=name)
            return self._commit_update(resource, current, obj, status)

    def delete(
        self,
        resource: ResourceKind,
        namespace: str,
        name: str,
        preconditions: Mapping[str, Any] | None = None,
    ) -> Entry:
        with self.store.lock:
            current = self.get(resource, namespace, name)
            pre = preconditions or {}
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted = pre.get(field)
                actual = current.obj["metadata"].get(field)
                if wanted and wanted != actual:
                    raise errors.conflict(
                        resource.plural,
                        resource.group,
                        name,
                        f"Precondition failed: {label} in precondition: {wanted},"
                        f" {label} in object meta: {actual}",
                    )
            return self._delete_entry(resource, current)

    def delete_collection(
        self, resource: ResourceKind, namespace: str | None, selection: Selection
    ) -> tuple[int, list[Entry]]:
        with self.store.lock:
            _, entries = self.list_objects(resource, namespace, selection)
            deleted = [self._delete_entry(resource, entry) for entry in entries]
            return self.store.current_rv, deleted

    # ---- internals ---------------------------------------------------------------------------

    def _checked_body(
        self, resource: ResourceKind, namespace: str, body: Any, url_name: str | None
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the request body for {resource.kind} must be a JSON object")
        obj = body
        for field, wanted in (("apiVersion", resource.api_version), ("kind", resource.kind)):
            given = obj.get(field)
            if given and given != wanted:
                raise errors.bad_request(
                    f"the {field} in the data ({given}) does not match the expected {field} ({wanted})"
                )
            obj[field] = wanted
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request(f"metadata of the {resource.kind} must be a JSON object")
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    f"the namespace of the provided object ({meta['namespace']}) does not match"
                    f" the namespace sent on the request ({namespace})"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if url_name is not None and meta.get("name", url_name) != url_name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({url_name})"
            )
        if url_name is not None:
            meta["name"] = url_name
        return obj

    def _commit_update(
        self, resource: ResourceKind, current: Entry, obj: dict[str, Any], status: bool
    ) -> Entry:
        old = current.obj
        name = old["metadata"]["name"]
        given_rv = obj["metadata"].get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.plural, resource.group, name, errors.MODIFIED)
        if obj["metadata"].get("uid") and obj["metadata"]["uid"] != old["metadata"]["uid"]:
            raise errors.invalid(
                resource.kind,
                resource.group,
                name,
                [semantic.invalid("metadata.uid", obj["metadata"]["uid"], "field is immutable")],
            )
        if status:
            new = current.copy()  # the status strategy keeps everything but .status
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            sections: tuple[str, ...] = ("status",)
        else:
            new = obj
            for system_field in _SYSTEM_META:
                if system_field in old["metadata"]:
                    new["metadata"][system_field] = copy.deepcopy(old["metadata"][system_field])
                else:
                    new["metadata"].pop(system_field, None)
            new["metadata"].pop("managedFields", None)
            if resource.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            sections = ("spec", "status")
        normalize(resource.kind, new)
        gates.drop_disabled_fields(resource.kind, new, old, self.gates, sections)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if resource.has_generation and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if new == old:
            return current  # no-op: same RV, no event
        terminating = "deletionTimestamp" in old["metadata"]
        if terminating:
            added = sorted(
                set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            )
            if added:
                raise errors.invalid(
                    resource.kind,
                    resource.group,
                    name,
                    [
                        Cause(
                            "metadata.finalizers",
                            f"Forbidden: no new finalizers can be added if the object is being deleted,"
                            f" found new finalizers {added}",
                            "FieldValueForbidden",
                        )
                    ],
                )
        self._validate(resource, new, old)
        key = (old["metadata"].get("namespace", ""), name)
        if terminating and not new["metadata"].get("finalizers"):
            return self.store.write(storage_key(resource), key, new, DELETED)
        return self.store.write(storage_key(resource), key, new, MODIFIED)

    def _delete_entry(self, resource: ResourceKind, current: Entry) -> Entry:
        meta = current.obj["metadata"]
        key: Key = (meta.get("namespace", ""), meta["name"])
        if meta.get("finalizers"):
            if "deletionTimestamp" in meta:
                return current
            pending = current.copy()
            pending["metadata"]["deletionTimestamp"] = now()
            pending["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.store.write(storage_key(resource), key, pending, MODIFIED)
        return self.store.write(storage_key(resource), key, current.copy(), DELETED)

    def _validate(self, resource: ResourceKind, obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        name = str(obj["metadata"].get("name", ""))
        causes = semantic.validate(resource, obj, old)
        causes += resource_rules.causes(resource.kind, obj, old, self.version)
        schema_error = validator(self.version, resource.api_version, resource.kind).error(obj)
        if schema_error is not None:
            message = schema_error.message
            if schema_error.path:
                message += f" (at {schema_error.path})"
            causes.insert(0, Cause(schema_error.path, message, "FieldValueInvalid", prefixed=False))
        if causes:
            raise errors.invalid(resource.kind, resource.group, name, causes)


def ensure_namespace(registry: Registry, name: str) -> Entry:
    """Create namespace ``name`` unless it exists (used for the built-in namespaces)."""
    try:
        return registry.create(NAMESPACES, "", {"metadata": {"name": name}})
    except ApiError as exc:
        if exc.reason != "AlreadyExists":
            raise
        return registry.get(NAMESPACES, "", name)
