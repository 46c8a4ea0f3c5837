"""CEL selectors the way kube-scheduler evaluates them, on the Rust ``cel`` engine.

Owns: ``CelEngine`` (compile with refusal of unsupported functions, a cache of compiled programs,
evaluation to a ``Match``) and ``CelDevice`` (one device's ``device`` variable and its cached
evaluation context). The ``device`` variable is built as d-r-a ``cel/compile.go`` builds it:
``driver``; ``attributes`` and ``capacity`` grouped by domain, names without a domain under the
driver's domain; version attributes as semver values; capacities as quantity values;
``allowMultipleAllocations``.

Contracts:
* An expression that references any function, macro or variable outside the supported set
  (``cel.bind``, ``math.*``, regex ``find``, ...) is refused at compile time with a ``CelError``
  naming it, so nothing is silently mis-evaluated.
* Runtime errors (missing key, type mismatch, a function's error) and non-bool results give
  ``Match(False, error)``; they are never treated as true. (kube-scheduler aborts the whole
  allocation on a runtime error; the simulator marks the device unusable and reports why.)
* An unknown attribute/capacity domain is an empty map: the engine cannot map lazily, so every
  domain-like string literal of a compiled expression is added as an empty map to each device.
  Known gap: ``size(device.attributes)`` then counts those empty domains too.
This module must never look at pools, usage or requests.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.runtime.cel_loader import cel
from dra_driver.sim.cel_values import FUNCTIONS, quantity_value, semver_value
from dra_driver.sim.errors import CelError

MAX_EXPRESSION_LENGTH = 10 * 1024
"""``CELSelectorExpressionMaxLength`` of resource.k8s.io/v1."""

_OPERATORS = frozenset(
    {
        "_&&_", "_||_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "_+_", "_-_", "_*_", "_/_", "_%_",
        "!_", "-_", "_[_]", "_?_:_", "@in", "@not_strictly_false",
    }
)  # fmt: skip
_NATIVE_FUNCTIONS = frozenset(
    {"size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string", "bytes"}
    | {"dyn", "type", "timestamp", "duration"}
)
SUPPORTED_FUNCTIONS = frozenset(_NATIVE_FUNCTIONS | FUNCTIONS.keys())
"""Every function a selector may call (besides operators and the has/all/exists/... macros)."""

_MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")
_STRING_LITERAL = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'")
_DOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")
_NOISE = (" Check ", " CEL does not coerce", " Convert explicitly")


class _DropFunctionWarnings(logging.Filter):
    """The engine logs every failing Python function; the simulator reports those errors itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Python function")


logging.getLogger("cel").addFilter(_DropFunctionWarnings())


@dataclass(frozen=True)
class Selector:
    """A compiled, accepted selector; ``domains`` are the domain-like string literals it uses."""

    expression: str
    program: cel.Program
    domains: frozenset[str]


@dataclass(frozen=True)
class Match:
    """The outcome of one selector on one device; ``error`` is set for runtime errors."""

    matched: bool
    error: str | None = None


def split_qualified(name: str, driver: str) -> tuple[str, str]:
    """``(domain, identifier)`` of an attribute/capacity name; no domain means the driver's."""
    domain, sep, ident = name.rpartition("/")
    return (domain, ident) if sep else (driver, name)


def check_expression(expression: str) -> Selector:
    """Compile ``expression`` and refuse what the simulator cannot evaluate like k8s (no caching)."""
    if not isinstance(expression, str) or not expression.strip():
        raise CelError(str(expression), "the expression is empty")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CelError(expression[:60] + "...", f"longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        raise CelError(expression, f"does not compile: {exc}") from None
    references = program.references()
    variables = set(references.get("variables", []))
    functions = set(references.get("functions", []))
    if "cel" in variables and "bind" in functions:
        raise CelError(
            expression, "the cel.bind macro is not supported by the simulator; inline the bound value"
        )
    bound = set(_MACRO_VARIABLE.findall(expression))
    for name in sorted(variables - bound - {"device"}):
        raise CelError(
            expression,
            f"unknown identifier {name!r}: only 'device' is defined (namespaced functions such as "
            f"{name}.* and other macros are not supported by the simulator)",
        )
    for name in sorted(functions - _OPERATORS - SUPPORTED_FUNCTIONS):
        raise CelError(
            expression,
            f"function {name!r} is not supported by the simulator; supported: "
            + ", ".join(sorted(SUPPORTED_FUNCTIONS)),
        )
    literals = {a or b for a, b in _STRING_LITERAL.findall(expression)}
    return Selector(expression, program, frozenset(s for s in literals if _DOMAIN.fullmatch(s)))


class CelDevice:
    """One device as CEL sees it; the engine caches its evaluation context here."""

    __slots__ = (
        "_context",
        "_error",
        "_version",
        "allow_multiple",
        "attributes",
        "capacity",
        "driver",
        "name",
    )

    def __init__(
        self,
        name: str,
        driver: str,
        attributes: Mapping[str, Mapping[str, Any]],
        capacity: Mapping[str, Mapping[str, Any]],
        allow_multiple: bool,
    ) -> None:
        self.name = name
        self.driver = driver
        self.attributes = attributes
        self.capacity = capacity
        self.allow_multiple = allow_multiple
        self._context: cel.Context | None = None
        self._error: str | None = None
        self._version: tuple[int, int] = (-1, -1)
        """(engine token, engine domain version) the cached context was built for."""

    def variable(self, domains: frozenset[str] | set[str], *, lists: bool = True) -> dict[str, Any]:
        """The ``device`` variable; ValueError (upstream's words) when an attribute cannot be a CEL value.

        ``lists`` is DRAListTypeAttributes: without it a list attribute is "unsupported".
        """
        attributes: dict[str, dict[str, Any]] = {domain: {} for domain in domains}
        capacity: dict[str, dict[str, Any]] = {domain: {} for domain in domains}
        attributes.setdefault(self.driver, {})
        capacity.setdefault(self.driver, {})
        for key, attribute in self.attributes.items():
            domain, ident = split_qualified(key, self.driver)
            attributes.setdefault(domain, {})[ident] = _attribute_value(key, attribute, lists)
        for key, entry in self.capacity.items():
            domain, ident = split_qualified(key, self.driver)
            try:
                capacity.setdefault(domain, {})[ident] = quantity_value(str(entry.get("value")))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"capacity {key}: {exc}") from None
        return {
            "driver": self.driver,
            "attributes": attributes,
            "capacity": capacity,
            "allowMultipleAllocations": self.allow_multiple,
        }


def _attribute_value(key: str, attribute: Mapping[str, Any], lists: bool) -> Any:
    """d-r-a ``getAttributeValue``: lists first (only with ``lists``), then int, bool, string, version."""
    if not isinstance(attribute, Mapping):
        raise ValueError(f"attribute {key}: unsupported attribute value")
    try:
        if lists:
            for field in ("ints", "bools", "strings"):
                if attribute.get(field) is not None:
                    return list(attribute[field])
            if attribute.get("versions") is not None:
                return [semver_value(v) for v in attribute["versions"]]
        for field in ("int", "bool", "string"):
            if attribute.get(field) is not None:
                return attribute[field]
        if attribute.get("version") is not None:
            return semver_value(attribute["version"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"attribute {key}: parse semantic version: {exc}") from None
    raise ValueError(f"attribute {key}: unsupported attribute value")


_ENGINE_TOKENS = itertools.count()


class CelEngine:
    """Compiles (cached by expression text) and evaluates selectors on ``CelDevice``s."""

    def __init__(self, *, list_attributes: bool = False, multi_allocations: bool = True) -> None:
        """``list_attributes``: DRAListTypeAttributes (list values; without it a list attribute fails
        every selector on its device). ``multi_allocations``: the allocator hands the device's
        ``allowMultipleAllocations`` to CEL (incubating does, stable does not: there it reads false).
        kube-scheduler compiles selectors as stored expressions, so ``includes`` and
        ``device.allowMultipleAllocations`` compile whatever the gates say."""
        self.list_attributes = list_attributes
        self.multi_allocations = multi_allocations
        self._compiled: dict[str, Selector | CelError] = {}
        self._domains: set[str] = set()
        self._version = 0
        self._token = next(_ENGINE_TOKENS)

    def compile(self, expression: str) -> Selector:
        """The accepted selector for ``expression``; raises the (cached) ``CelError`` otherwise."""
        found = self._compiled.get(expression)
        if found is None:
            try:
                found = check_expression(expression)
            except CelError as exc:
                found = exc
            self._compiled[expression] = found
            if isinstance(found, Selector) and not found.domains <= self._domains:
                self._domains |= found.domains
                self._version += 1
        if isinstance(found, CelError):
            raise found
        return found

    def _context(self, device: CelDevice) -> cel.Context | str:
        if device._version != (self._token, self._version):
            device._version = (self._token, self._version)
            try:
                variable = device.variable(self._domains, lists=self.list_attributes)
                variable["allowMultipleAllocations"] = device.allow_multiple and self.multi_allocations
            except ValueError as exc:
                device._context, device._error = None, str(exc)
            else:
                device._context, device._error = (
                    cel.Context(variables={"device": variable}, functions=FUNCTIONS),
                    None,
                )
        if device._context is None:
            return device._error or f"device {device.name!r} has no CEL context"
        return device._context

    def evaluate(self, selector: Selector, device: CelDevice) -> Match:
        """Run ``selector`` on ``device``; errors and non-bool results are ``Match(False, error)``."""
        context = self._context(device)
        if isinstance(context, str):
            return Match(False, context)
        try:
            result = selector.program.execute(context)
        except KeyError as exc:
            return Match(False, f"no such key: {exc.args[0]!r}")
        except Exception as exc:  # the engine raises Runtime/Type/Value/ZeroDivision errors
            return Match(False, _clean(str(exc)) or type(exc).__name__)
        if not isinstance(result, bool):
            return Match(False, f"result is {type(result).__name__} {result!r}, not a bool")
        return Match(result)


_FUNCTION_FAILED = re.compile(r"Function '[^']*' error: Python function call failed: \w+: ")


def _clean(message: str) -> str:
    message = _FUNCTION_FAILED.sub("", message)
    for noise in _NOISE:
        cut = message.find(noise)
        if cut > 0:
            message = message[:cut]
    return message.strip().rstrip(".")
