"""Field and label selectors: parsing and matching, with upstream syntax and errors.

Owns: ``fieldSelector`` (terms ``f=v``, ``f==v``, ``f!=v`` joined by ``,`` meaning AND, with
``\\,`` ``\\=`` ``\\\\`` escapes, as k8s.io/apimachinery ``fields.ParseSelector``) and
``labelSelector`` (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
``a>1``, ``a<1``, as ``labels.Parse``). Which field labels a kind accepts comes from
``resources``; this module must never decide that itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.devcluster.errors import bad_request
from dra_driver.devcluster.resources import FieldGetter, ResourceKind


@dataclass(frozen=True)
class FieldTerm:
    label: str
    getter: FieldGetter
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (self.getter(obj) == self.value) is self.equal


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str, selector: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        if nxt not in ("\\", ",", "="):
            raise bad_request(f"invalid field selector {selector!r}: invalid escape sequence '\\{nxt}'")
        out.append(nxt)
    return "".join(out)


def parse_field_selector(text: str, resource: ResourceKind) -> tuple[FieldTerm, ...]:
    """Parse a field selector against the labels ``resource`` accepts (400 otherwise)."""
    terms: list[FieldTerm] = []
    if not text:
        return ()
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        parsed = _split_term(term)
        if parsed is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        label, op, raw_value = parsed
        getter = resource.field_getter(label)
        terms.append(FieldTerm(label, getter, op != "!=", _unescape(raw_value, text)))
    return tuple(terms)


def _split_term(term: str) -> tuple[str, str, str] | None:
    escaped = False
    for index, char in enumerate(term):
        if escaped:
            escaped = False
            continue
        if char == "\\":
            escaped = True
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, index):
                return term[:index], op, term[index + len(op) :]
    return None


LabelTest = Callable[[Mapping[str, str]], bool]

_TOKEN = re.compile(r"\s*(?:(==|!=|=|>|<|!|\(|\)|,)|([A-Za-z0-9_./-]+))")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise bad_request(f"invalid label selector {text!r}: unexpected character {text[pos]!r} at {pos}")
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    return tokens


def parse_label_selector(text: str) -> tuple[LabelTest, ...]:
    """Parse a label selector into tests that must all pass."""
    tokens = _tokens(text)
    tests: list[LabelTest] = []
    index = 0

    def fail(why: str) -> Exception:
        return bad_request(f"invalid label selector {text!r}: {why}")

    def take() -> str:
        nonlocal index
        if index >= len(tokens):
            raise fail("unexpected end of selector")
        index += 1
        return tokens[index - 1]

    while index < len(tokens):
        word = take()
        if word == "!":
            key = take()
            tests.append(_absent(key))
        else:
            key = word
            op = tokens[index] if index < len(tokens) else ","
            if op == ",":
                tests.append(_present(key))
            else:
                index += 1
                tests.append(_requirement(key, op, take, fail))
        if index < len(tokens) and take() != ",":
            raise fail(f"expected ',' after the requirement on {key!r}")
    return tuple(tests)


def _absent(key: str) -> LabelTest:
    return lambda labels: key not in labels


def _present(key: str) -> LabelTest:
    return lambda labels: key in labels


def _requirement(key: str, op: str, take: Callable[[], str], fail: Callable[[str], Exception]) -> LabelTest:
    if op in ("=", "=="):
        value = take()
        return lambda labels: labels.get(key) == value
    if op == "!=":
        value = take()
        return lambda labels: labels.get(key) != value
    if op in (">", "<"):
        raw = take()
        try:
            bound = int(raw)
        except ValueError:
            raise fail(f"for '{op}' operator, the value must be an integer, got {raw!r}") from None
        return lambda labels: _compare(labels.get(key), bound, op)
    if op in ("in", "notin"):
        if take() != "(":
            raise fail(f"expected '(' after {op} for {key!r}")
        values: set[str] = set()
        while True:
            item = take()
            if item == ")":
                break
            if item == ",":
                continue
            values.add(item)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    raise fail(f"unknown operator {op!r} after {key!r}")


def _compare(value: str | None, bound: int, op: str) -> bool:
    if value is None:
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    return number > bound if op == ">" else number < bound


@dataclass(frozen=True)
class Selection:
    """A parsed field plus label selector; ``matches`` checks one object."""

    fields: tuple[FieldTerm, ...] = ()
    labels: tuple[LabelTest, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.fields and not self.labels

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for term in self.fields:
            if not term.matches(obj):
                return False
        if self.labels:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            for test in self.labels:
                if not test(labels):
                    return False
        return True


def parse_selection(field_selector: str, label_selector: str, resource: ResourceKind) -> Selection:
    return Selection(parse_field_selector(field_selector, resource), parse_label_selector(label_selector))
