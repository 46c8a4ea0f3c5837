"""Typed accessors for one kind of object: get, list, create, update, patch, delete, modify.

Owns: one generic implementation of the verbs over a :class:`~.kinds.KindSpec` and the
:class:`~.transport.Transport` (REST paths, JSON bodies, the kind's model), exposed as
:class:`ClusterResource` and :class:`NamespacedResource` (namespace first) and
:class:`NamespacedStatusResource`. Every call goes through the retry policy and raises hdra's
exceptions only. It must never hold state between calls (no caches: that is :mod:`.watch`'s job)
and never turn a 409 into a blind retry of the same write: ``modify`` re-reads first.
``get_json`` is the lean read for hot paths: the same request, retries and errors, but the object
comes back as parsed JSON, not as a model (the caller models only what it needs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from .errors import TRANSLATABLE, KubeError, NotFound, translate
from .kinds import KindSpec, ObjectList, T, object_meta, object_name
from .retry import RetryPolicy, call_with_retry, retry_on_conflict
from .transport import Query, Transport

R = TypeVar("R")


class Resource(Generic[T]):
    """The verbs, implemented once with an explicit namespace (None for cluster-scoped kinds)."""

    def __init__(self, spec: KindSpec[T], transport: Transport, policy: RetryPolicy) -> None:
        self.spec = spec
        self.transport = transport
        self.policy = policy

    # -- plumbing -----------------------------------------------------------------------------------

    def _scope(self, namespace: str | None) -> str | None:
        if not self.spec.namespaced:
            return None
        if not namespace:
            raise ValueError(f"{self.spec.kind} is namespaced: a namespace is required")
        return namespace

    def _call(self, verb: str, name: str | None, namespace: str | None, thunk: Callable[[], R]) -> R:
        kind = self.spec.kind

        def attempt() -> R:
            try:
                return thunk()
            except TRANSLATABLE as exc:
                raise translate(exc, verb, kind, name, namespace) from exc

        where = kind if name is None else f"{kind} {namespace + '/' if namespace else ''}{name}"
        return call_with_retry(self.policy, f"{verb} {where}", attempt)

    def _bad_answer(self, verb: str, name: str | None, namespace: str | None, problem: str) -> KubeError:
        return KubeError(
            verb=verb,
            kind=self.spec.kind,
            name=name,
            namespace=namespace,
            code=None,
            reason=None,
            detail=problem,
        )

    def _document(self, verb: str, name: str | None, namespace: str | None, data: bytes) -> dict[str, Any]:
        """The answer as a JSON object, or a KubeError saying what it was instead."""
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise self._bad_answer(verb, name, namespace, f"the answer is not JSON: {exc}") from None
        if not isinstance(document, dict):
            problem = f"the answer is a JSON {type(document).__name__}, not an object"
            raise self._bad_answer(verb, name, namespace, problem)
        return document

    def decode(self, verb: str, name: str | None, namespace: str | None, document: Any) -> T:
        """One object of this kind from its JSON, or a KubeError naming the field that does not fit."""
        try:
            return self.spec.model.model_validate(document)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the object"
            problem = f"the answer is not a valid {self.spec.kind}: {where}: {first['msg']}"
            raise self._bad_answer(verb, name, namespace, problem) from None

    def _send(
        self,
        verb: str,
        method: str,
        path: str,
        name: str | None,
        namespace: str | None,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> bytes:
        timeout = self.policy.request_timeout_s
        return self._call(
            verb,
            name,
            namespace,
            lambda: self.transport.request(
                method, path, query=query, body=body, timeout=timeout, content_type=content_type
            ),
        )

    def _check_namespace(self, obj: T, namespace: str | None) -> None:
        declared = object_meta(obj, self.spec.kind).namespace
        if declared and namespace and declared != namespace:
            raise ValueError(
                f"{self.spec.kind} {object_name(obj, self.spec.kind)!r} declares namespace {declared!r} "
                f"but the call targets namespace {namespace!r}"
            )

    def _body(self, obj: T) -> dict[str, Any]:
        """The wire form of ``obj`` with apiVersion and kind filled in (the server requires them)."""
        body = obj.to_json()
        body.setdefault("apiVersion", self.spec.group_version)
        body.setdefault("kind", self.spec.kind)
        return body

    # -- verbs with an explicit scope ----------------------------------------------------------------

    def list_objects(
        self, namespace: str | None, field_selector: str | None = None, label_selector: str | None = None
    ) -> ObjectList[T]:
        """List in ``namespace``, or across all namespaces when it is None (namespaced kinds)."""
        scope = self._scope(namespace) if namespace is not None or not self.spec.namespaced else None
        query = {"fieldSelector": field_selector, "labelSelector": label_selector}
        data = self._send("list", "GET", self.spec.collection_path(scope), None, namespace, query=query)
        document = self._document("list", None, namespace, data)
        items = document.get("items") or []
        if not isinstance(items, list):
            raise self._bad_answer("list", None, namespace, "the answer's items is not a list")
        meta = document.get("metadata") or {}
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        return ObjectList(
            items=tuple(self.decode("list", None, namespace, item) for item in items),
            resource_version=str(rv or ""),
        )

    def _get(self, namespace: str | None, name: str) -> T:
        return self.decode("get", name, namespace, self._get_json(namespace, name))

    def _get_json(self, namespace: str | None, name: str) -> dict[str, Any]:
        path = self.spec.object_path(self._scope(namespace), name)
        return self._document("get", name, namespace, self._send("get", "GET", path, name, namespace))

    def _create(self, namespace: str | None, obj: T, dry_run: bool = False) -> T:
        scope = self._scope(namespace)
        self._check_namespace(obj, namespace)
        name = object_meta(obj, self.spec.kind).name or object_meta(obj, self.spec.kind).generate_name
        verb = "create (dry run)" if dry_run else "create"
        query = {"dryRun": "All"} if dry_run else None
        data = self._send(
            verb, "POST", self.spec.collection_path(scope), name, namespace, query=query, body=self._body(obj)
        )
        return self.decode(verb, name, namespace, self._document(verb, name, namespace, data))

    def _update(self, namespace: str | None, obj: T, *, status: bool = False) -> T:
        scope = self._scope(namespace)
        self._check_namespace(obj, namespace)
        name = object_name(obj, self.spec.kind)
        verb = "update status" if status else "update"
        path = self.spec.object_path(scope, name) + ("/status" if status else "")
        data = self._send(verb, "PUT", path, name, namespace, body=self._body(obj))
        return self.decode(verb, name, namespace, self._document(verb, name, namespace, data))

    def _patch(self, namespace: str | None, name: str, patch: dict[str, Any], *, status: bool = False) -> T:
        """A JSON merge patch (RFC 7386): the fields in ``patch`` replace the stored ones, ``None``
        removes one. No resourceVersion unless the patch carries one: last writer wins per field."""
        verb = "patch status" if status else "patch"
        path = self.spec.object_path(self._scope(namespace), name) + ("/status" if status else "")
        data = self._send(
            verb, "PATCH", path, name, namespace, body=patch, content_type="application/merge-patch+json"
        )
        return self.decode(verb, name, namespace, self._document(verb, name, namespace, data))

    def _delete(
        self, namespace: str | None, name: str, uid: str | None, resource_version: str | None
    ) -> bool:
        path = self.spec.object_path(self._scope(namespace), name)
        body = None
        if uid is not None or resource_version is not None:
            preconditions = {"uid": uid, "resourceVersion": resource_version}
            body = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {k: v for k, v in preconditions.items() if v is not None},
            }
        try:
            self._send("delete", "DELETE", path, name, namespace, body=body)
        except NotFound:
            return False
        return True

    def _delete_collection(
        self, namespace: str | None, field_selector: str | None, label_selector: str | None
    ) -> None:
        if not self.spec.collection_delete:
            raise TypeError(f"{self.spec.kind} has no delete-collection verb")
        path = self.spec.collection_path(self._scope(namespace))
        query = {"fieldSelector": field_selector, "labelSelector": label_selector}
        self._send("deletecollection", "DELETE", path, None, namespace, query=query)

    def _modify(
        self, namespace: str | None, name: str, mutate: Callable[[T], T | None], *, status: bool = False
    ) -> T | None:
        """GET, mutate, PUT with the read resourceVersion; on 409 Conflict start over from the GET.

        ``mutate`` runs once per attempt on a freshly read object; returning None means "nothing to
        change" and nothing is written.
        """

        def read_modify_write() -> T | None:
            current = self._get(namespace, name)
            changed = mutate(current)
            if changed is None:
                return None
            changed_name = object_name(changed, self.spec.kind)
            if changed_name != name:
                raise ValueError(
                    f"modify of {self.spec.kind} {name!r} returned an object named {changed_name!r}"
                )
            return self._update(namespace, changed, status=status)

        where = f"{self.spec.kind} {namespace + '/' if namespace else ''}{name}"
        return retry_on_conflict(self.policy, f"modify {where}", read_modify_write)


class ClusterResource(Resource[T]):
    """A cluster-scoped kind (ResourceSlice, DeviceClass, Node)."""

    def get(self, name: str) -> T:
        return self._get(None, name)

    def list(self, *, field_selector: str | None = None, label_selector: str | None = None) -> ObjectList[T]:
        return self.list_objects(None, field_selector, label_selector)

    def create(self, obj: T, *, dry_run: bool = False) -> T:
        """POST; with ``dry_run`` the server checks and answers but stores nothing (``dryRun=All``)."""
        return self._create(None, obj, dry_run)

    def update(self, obj: T) -> T:
        """PUT; a stale metadata.resourceVersion raises Conflict."""
        return self._update(None, obj)

    def delete(self, name: str, *, uid: str | None = None, resource_version: str | None = None) -> bool:
        """True if deleted, False if it did not exist; uid/resource_version are preconditions (409)."""
        return self._delete(None, name, uid, resource_version)

    def delete_collection(
        self, *, field_selector: str | None = None, label_selector: str | None = None
    ) -> None:
        self._delete_collection(None, field_selector, label_selector)

    def modify(self, name: str, mutate: Callable[[T], T | None]) -> T | None:
        return self._modify(None, name, mutate)

    def patch(self, name: str, patch: dict[str, Any]) -> T:
        """PATCH with a JSON merge patch; returns the stored object."""
        return self._patch(None, name, patch)


class NamespacedResource(Resource[T]):
    """A namespaced kind (ResourceClaim, ResourceClaimTemplate, Event); the namespace comes first."""

    def get(self, namespace: str, name: str) -> T:
        return self._get(namespace, name)

    def get_json(self, namespace: str, name: str) -> dict[str, Any]:
        """GET as parsed JSON (no model): for hot paths that read a few fields."""
        return self._get_json(namespace, name)

    def list(
        self,
        namespace: str | None = None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
    ) -> ObjectList[T]:
        """List in ``namespace``; None lists across all namespaces."""
        return self.list_objects(namespace, field_selector, label_selector)

    def create(self, namespace: str, obj: T, *, dry_run: bool = False) -> T:
        """POST; with ``dry_run`` the server checks and answers but stores nothing (``dryRun=All``)."""
        return self._create(namespace, obj, dry_run)

    def update(self, namespace: str, obj: T) -> T:
        """PUT; a stale metadata.resourceVersion raises Conflict. Kinds with status ignore .status here."""
        return self._update(namespace, obj)

    def delete(
        self, namespace: str, name: str, *, uid: str | None = None, resource_version: str | None = None
    ) -> bool:
        return self._delete(namespace, name, uid, resource_version)

    def delete_collection(
        self, namespace: str, *, field_selector: str | None = None, label_selector: str | None = None
    ) -> None:
        self._delete_collection(namespace, field_selector, label_selector)

    def modify(self, namespace: str, name: str, mutate: Callable[[T], T | None]) -> T | None:
        return self._modify(namespace, name, mutate)

    def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> T:
        """PATCH with a JSON merge patch; returns the stored object."""
        return self._patch(namespace, name, patch)


class NamespacedStatusResource(NamespacedResource[T]):
    """A namespaced kind with a status subresource (ResourceClaim)."""

    def update_status(self, namespace: str, obj: T) -> T:
        """PUT .../status: only .status changes; a stale resourceVersion raises Conflict."""
        return self._update(namespace, obj, status=True)

    def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> T:
        """PATCH .../status with a JSON merge patch."""
        return self._patch(namespace, name, patch, status=True)

    def modify_status(self, namespace: str, name: str, mutate: Callable[[T], T | None]) -> T | None:
        """Like :meth:`modify`, writing through the status subresource."""
        return self._modify(namespace, name, mutate, status=True)
