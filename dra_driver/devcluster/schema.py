"""Strict OpenAPI validation of stored objects, from the schemas shipped in ``kubernetes-validate``.

Owns: locating the ``v<version>-local-strict`` schema of a (Kubernetes version, kind) the way
``kubernetes_validate.validate`` does, loading each file once, and a cached validator per kind.
Each validator has two halves: a compiled fast path (closures over the schema, about ten times
faster than ``jsonschema``) that only answers "valid or not" for the keywords the Kubernetes
schemas use, and a ``jsonschema`` Draft 2020-12 validator that is consulted only when the fast path
rejects, so every error message is exactly ``jsonschema``'s. If a schema ever uses a keyword the
compiler does not know, that kind is validated by ``jsonschema`` alone. Also hands the raw
definitions to the strategic-merge-patch code (``x-kubernetes-patch-*`` extensions).

Start-up (issue 17 item 6): the schema files are found without importing ``kubernetes_validate``
(whose ``__init__`` imports jsonschema, referencing and yaml), and ``jsonschema`` is imported and
its validator built only when a kind's fast path first rejects an object (or has no fast path).
Both packages are still required at import (``hdra[tools]``): a missing one is a
``ModuleNotFoundError`` naming it, as an import would give.

It must never change an object and never decide semantics the schema does not express.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dra_driver.kube.features import KubeVersion

if TYPE_CHECKING:
    import jsonschema

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"description", "format", "$schema", "$id", "x-kubernetes-group-version-kind"})
_KNOWN = frozenset(
    {"type", "properties", "additionalProperties", "required", "items", "enum", "oneOf", "$ref"}
)


class UnsupportedSchemaError(Exception):
    """The fast compiler met a keyword it does not implement; jsonschema takes over."""


@dataclass(frozen=True)
class SchemaError:
    """The most relevant schema violation: where (``spec.devices[0]``) and jsonschema's message."""

    path: str
    message: str


def _package_dir(name: str) -> Path:
    """Where the installed package ``name`` lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return Path(next(iter(spec.submodule_search_locations)))


_SCHEMA_ROOT = _package_dir("kubernetes_validate") / "kubernetes-json-schema"
_package_dir("jsonschema")  # imported later, on the first rejection; required now all the same


def schema_dir(version: KubeVersion) -> Path:
    return _SCHEMA_ROOT / f"v{version.schema_version}-local-strict"


def schema_path(version: KubeVersion, api_version: str, kind: str) -> Path:
    """``resourceslice-resource-v1.json`` for resource.k8s.io/v1, ``pod-v1.json`` for core v1."""
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return schema_dir(version) / f"{kind.lower()}-{api}.json"


@cache
def definitions(version: KubeVersion) -> dict[str, Any]:
    """The ``_definitions.json`` document of ``version`` (loaded once per process)."""
    with (schema_dir(version) / "_definitions.json").open() as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@cache
def root_schema(version: KubeVersion, api_version: str, kind: str) -> dict[str, Any]:
    path = schema_path(version, api_version, kind)
    if not path.is_file():
        raise FileNotFoundError(f"kubernetes-validate ships no schema for {kind} {api_version} at {path}")
    with path.open() as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def ref_name(ref: str) -> str:
    """``/api/_definitions.json#/$defs/X`` or ``#/$defs/X`` → ``X``."""
    marker = "#/$defs/"
    if marker not in ref:
        raise UnsupportedSchemaError(f"$ref {ref!r} does not point into _definitions.json")
    return ref.split(marker, 1)[1]


def _type_check(types: str | list[str]) -> Check:
    names = {types} if isinstance(types, str) else set(types)
    exact: set[type] = set()
    for name, python in (("string", str), ("boolean", bool), ("object", dict), ("array", list)):
        if name in names:
            exact.add(python)
    allow_null = "null" in names
    number = "number" in names
    integer = "integer" in names and not number
    if number:
        exact.update((int, float))
    elif integer:
        exact.add(int)
    unknown = names - {"string", "boolean", "object", "array", "null", "number", "integer"}
    if unknown:
        raise UnsupportedSchemaError(f"unknown JSON types {sorted(unknown)}")
    frozen = frozenset(exact)

    def check(value: Any) -> bool:
        kind = type(value)
        if kind in frozen:
            return True
        if value is None:
            return allow_null
        return integer and kind is float and value.is_integer()

    return check


class _Compiler:
    """Compiles schema nodes into ``value -> bool`` closures; refs are resolved lazily (cycles)."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, Check | None] = {}

    def ref(self, ref: str) -> Check | None:
        name = ref_name(ref)
        if name not in self._defs:
            raise UnsupportedSchemaError(f"$ref {ref!r} names no definition")
        if name in self._compiled:
            compiled = self._compiled[name]
            if compiled is not None:
                return compiled
            return lambda value: self._compiled[name] is None or _call(self._compiled[name], value)
        self._compiled[name] = None  # placeholder while compiling: a recursive ref resolves late
        compiled = self.node(self._defs[name])
        self._compiled[name] = compiled
        return compiled

    def node(self, schema: Any) -> Check | None:
        if schema is True or schema == {}:
            return None
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(f"schema node {schema!r} is not an object")
        keys = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-kubernetes-")}
        unknown = keys - _KNOWN
        if unknown:
            raise UnsupportedSchemaError(f"keywords {sorted(unknown)}")
        checks: list[Check] = []
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        object_check = self._object(schema)
        if object_check is not None:
            checks.append(object_check)
        if "items" in schema:
            item = self.node(schema["items"])
            if item is not None:
                checks.append(lambda value: not isinstance(value, list) or all(item(v) for v in value))
        if "oneOf" in schema:
            options = [self.node(option) or (lambda _v: True) for option in schema["oneOf"]]
            checks.append(lambda value: sum(1 for option in options if option(value)) == 1)
        if "$ref" in schema:
            target = self.ref(schema["$ref"])
            if target is not None:
                checks.append(target)
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def _object(self, schema: dict[str, Any]) -> Check | None:
        if not any(k in schema for k in ("properties", "additionalProperties", "required")):
            return None
        props = {name: self.node(sub) for name, sub in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        additional = schema.get("additionalProperties", True)
        closed = additional is False
        extra = None if isinstance(additional, bool) else self.node(additional)

        def check(value: Any) -> bool:
            if type(value) is not dict:
                return True
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                if key in props:
                    sub = props[key]
                    if sub is not None and not sub(item):
                        return False
                elif closed or (extra is not None and not extra(item)):
                    return False
            return True

        return check


def _call(check: Check | None, value: Any) -> bool:
    return check is None or check(value)


def _enum_check(values: list[Any]) -> Check:
    if not all(isinstance(v, str) or v is None for v in values):
        raise UnsupportedSchemaError(f"enum with non-string values {values!r}")
    allowed = frozenset(values)
    return lambda value: (isinstance(value, str) or value is None) and value in allowed


class ObjectValidator:
    """Validates whole objects of one (version, kind) against the strict schema."""

    def __init__(self, version: KubeVersion, api_version: str, kind: str) -> None:
        self._schema = root_schema(version, api_version, kind)
        self._defs = definitions(version)
        try:
            self._fast: Check | None = _Compiler(self._defs["$defs"]).node(self._schema) or (lambda _v: True)
        except UnsupportedSchemaError:
            self._fast = None

    @cached_property
    def _jsonschema(self) -> jsonschema.protocols.Validator:
        """jsonschema's validator of this kind, built on first use (building twice is harmless)."""
        import jsonschema  # noqa: PLC0415 - only needed once an object is rejected (module docstring)
        import referencing  # noqa: PLC0415

        registry: referencing.Registry[Any] = referencing.Registry()
        registry = referencing.Resource.from_contents(self._schema) @ registry
        registry = referencing.Resource.from_contents(self._defs) @ registry
        validator: jsonschema.protocols.Validator = jsonschema.validators.Draft202012Validator(
            self._schema, registry=registry
        )
        return validator

    @property
    def compiled(self) -> bool:
        return self._fast is not None

    def fast_valid(self, obj: Any) -> bool | None:
        """The compiled fast path's verdict alone (None when this kind has no fast path)."""
        return None if self._fast is None else self._fast(obj)

    def jsonschema_valid(self, obj: Any) -> bool:
        """``jsonschema``'s verdict alone; the fast path must never accept what this rejects."""
        return bool(self._jsonschema.is_valid(obj))

    def error(self, obj: dict[str, Any]) -> SchemaError | None:
        """None when ``obj`` is valid, else the most relevant violation."""
        if self._fast is not None and self._fast(obj):
            return None
        from jsonschema.exceptions import best_match  # noqa: PLC0415 - see _jsonschema

        found = best_match(self._jsonschema.iter_errors(obj))
        if found is None:
            return None
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in found.absolute_path).lstrip(".")
        return SchemaError(path, found.message)


_lock = threading.Lock()
_validators: dict[tuple[KubeVersion, str, str], ObjectValidator] = {}


def validator(version: KubeVersion, api_version: str, kind: str) -> ObjectValidator:
    """The cached validator for (version, apiVersion, kind); built on first use."""
    key = (version, api_version, kind)
    with _lock:
        found = _validators.get(key)
        if found is None:
            found = ObjectValidator(version, api_version, kind)
            _validators[key] = found
        return found
