"""Typed accessors for one kind of object: get, list, create, update, delete, modify.

Owns: one generic implementation of the verbs over a :class:`~.kinds.KindSpec` (the official
client's method names per kind), exposed as :class:`ClusterResource` and
:class:`NamespacedResource` (namespace first) and :class:`NamespacedStatusResource`. Every call
goes through the retry policy and raises hdra's exceptions only. It must never hold state between
calls (no caches: that is :mod:`.watch`'s job) and never turn a 409 into a blind retry of the same
write: ``modify`` re-reads first. ``get_json`` is the lean read for hot paths: the same request,
retries and errors, but the object comes back as parsed JSON, not as the client's model (the
caller models only what it needs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kubernetes.client import ApiClient, ApiException, V1DeleteOptions, V1Preconditions

from .errors import TRANSLATABLE, KubeError, NotFound, translate
from .kinds import KindSpec, ObjectList, T, Verb, object_meta, object_name
from .retry import RetryPolicy, call_with_retry, retry_on_conflict

R = TypeVar("R")


class Resource(Generic[T]):
    """The verbs, implemented once with an explicit namespace (None for cluster-scoped kinds)."""

    def __init__(self, spec: KindSpec[T], api: object, policy: RetryPolicy) -> None:
        self.spec = spec
        self.policy = policy
        self._api_client: ApiClient | None = getattr(api, "api_client", None)
        self._fns: dict[Verb, Callable[..., Any]] = {}
        for verb, method in spec.method_names().items():
            fn = getattr(api, method, None)
            if fn is None:
                raise TypeError(f"{type(api).__name__} has no method {method!r} for {spec.kind} ({verb})")
            self._fns[verb] = fn

    # -- plumbing -----------------------------------------------------------------------------------

    def _scope(self, namespace: str | None) -> dict[str, str]:
        if not self.spec.namespaced:
            return {}
        if not namespace:
            raise ValueError(f"{self.spec.kind} is namespaced: a namespace is required")
        return {"namespace": namespace}

    def _call(self, verb: str, name: str | None, namespace: str | None, thunk: Callable[[], R]) -> R:
        kind = self.spec.kind

        def attempt() -> R:
            try:
                return thunk()
            except TRANSLATABLE as exc:
                raise translate(exc, verb, kind, name, namespace) from exc

        where = kind if name is None else f"{kind} {namespace + '/' if namespace else ''}{name}"
        return call_with_retry(self.policy, f"{verb} {where}", attempt)

    def _check_namespace(self, obj: T, namespace: str | None) -> None:
        declared = object_meta(obj, self.spec.kind).namespace
        if declared and namespace and declared != namespace:
            raise ValueError(
                f"{self.spec.kind} {object_name(obj, self.spec.kind)!r} declares namespace {declared!r} "
                f"but the call targets namespace {namespace!r}"
            )

    @staticmethod
    def _discard(response: Any) -> None:
        """Consume a raw (``_preload_content=False``) response so the connection returns to the pool."""
        response.read()
        response.release_conn()

    # -- verbs with an explicit scope ----------------------------------------------------------------

    def list_objects(
        self, namespace: str | None, field_selector: str | None = None, label_selector: str | None = None
    ) -> ObjectList[T]:
        """List in ``namespace``, or across all namespaces when it is None (namespaced kinds)."""
        fn, scope = self.list_function(namespace)
        result = self._call(
            "list",
            None,
            namespace,
            lambda: fn(
                **scope,
                field_selector=field_selector,
                label_selector=label_selector,
                _request_timeout=self.policy.request_timeout_s,
            ),
        )
        rv = result.metadata.resource_version if result.metadata is not None else None
        return ObjectList(items=tuple(result.items), resource_version=rv or "")

    def list_function(self, namespace: str | None) -> tuple[Callable[..., Any], dict[str, str]]:
        """The official list method and its scope arguments, for list calls and watch streams."""
        if self.spec.namespaced and namespace is None:
            return self._fns["list_all"], {}
        return self._fns["list"], self._scope(namespace)

    def _get(self, namespace: str | None, name: str) -> T:
        fn, scope = self._fns["read"], self._scope(namespace)
        result: T = self._call(
            "get",
            name,
            namespace,
            lambda: fn(name=name, **scope, _request_timeout=self.policy.request_timeout_s),
        )
        return result

    def _get_json(self, namespace: str | None, name: str) -> dict[str, Any]:
        client = self._api_client
        if client is None:
            raise TypeError(f"{self.spec.kind}: the API object has no api_client for raw reads")
        path = self.spec.object_path(self._scope(namespace).get("namespace"), name)

        def fetch() -> dict[str, Any]:
            request = client.param_serialize(
                method="GET",
                resource_path=path,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = client.call_api(*request, _request_timeout=self.policy.request_timeout_s)
            data: bytes = response.read()  # type: ignore[no-untyped-call]
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(
                    http_resp=response, body=data.decode(errors="replace"), data=None
                )
            try:
                document = json.loads(data)
            except ValueError as exc:
                problem = f"the answer is not JSON: {exc}"
            else:
                if isinstance(document, dict):
                    return document
                problem = f"the answer is a JSON {type(document).__name__}, not an object"
            raise KubeError(
                verb="get",
                kind=self.spec.kind,
                name=name,
                namespace=namespace,
                code=response.status,
                reason=None,
                detail=problem,
            )

        return self._call("get", name, namespace, fetch)

    def _create(self, namespace: str | None, obj: T, dry_run: bool = False) -> T:
        scope = self._scope(namespace)
        self._check_namespace(obj, namespace)
        name = object_meta(obj, self.spec.kind).name or object_meta(obj, self.spec.kind).generate_name
        fn = self._fns["create"]
        extra = {"dry_run": "All"} if dry_run else {}
        result: T = self._call(
            "create (dry run)" if dry_run else "create",
            name,
            namespace,
            lambda: fn(**scope, body=obj, _request_timeout=self.policy.request_timeout_s, **extra),
        )
        return result

    def _update(self, namespace: str | None, obj: T, *, status: bool = False) -> T:
        scope = self._scope(namespace)
        self._check_namespace(obj, namespace)
        name = object_name(obj, self.spec.kind)
        fn = self._fns["replace_status" if status else "replace"]
        result: T = self._call(
            "update status" if status else "update",
            name,
            namespace,
            lambda: fn(name=name, **scope, body=obj, _request_timeout=self.policy.request_timeout_s),
        )
        return result

    def _delete(
        self, namespace: str | None, name: str, uid: str | None, resource_version: str | None
    ) -> bool:
        scope = self._scope(namespace)
        body = None
        if uid is not None or resource_version is not None:
            body = V1DeleteOptions(preconditions=V1Preconditions(uid=uid, resource_version=resource_version))
        fn = self._fns["delete"]
        try:
            self._call(
                "delete",
                name,
                namespace,
                lambda: self._discard(
                    fn(
                        name=name,
                        **scope,
                        body=body,
                        _preload_content=False,
                        _request_timeout=self.policy.request_timeout_s,
                    )
                ),
            )
        except NotFound:
            return False
        return True

    def _delete_collection(
        self, namespace: str | None, field_selector: str | None, label_selector: str | None
    ) -> None:
        scope = self._scope(namespace)
        fn = self._fns["delete_collection"]
        self._call(
            "deletecollection",
            None,
            namespace,
            lambda: self._discard(
                fn(
                    **scope,
                    field_selector=field_selector,
                    label_selector=label_selector,
                    _preload_content=False,
                    _request_timeout=self.policy.request_timeout_s,
                )
            ),
        )

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


class NamespacedStatusResource(NamespacedResource[T]):
    """A namespaced kind with a status subresource (ResourceClaim)."""

    def update_status(self, namespace: str, obj: T) -> T:
        """PUT .../status: only .status changes; a stale resourceVersion raises Conflict."""
        return self._update(namespace, obj, status=True)

    def modify_status(self, namespace: str, name: str, mutate: Callable[[T], T | None]) -> T | None:
        """Like :meth:`modify`, writing through the status subresource."""
        return self._modify(namespace, name, mutate, status=True)
