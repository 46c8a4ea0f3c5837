"""``decode_config``: raw opaque parameters (JSON text or an already parsed object) → ``AcceleratorConfig``.

Owns: the checks an opaque config passes before and after the model sees it, in this order:
size (a RawExtension holds at most 10 KiB), JSON syntax (no duplicate keys, no NaN), a JSON
object, ``apiVersion``, ``kind``, the strict model, and finally that vendor extras belong to the
driver doing the decoding. Every failure is a ``ParameterError`` whose message begins with the
field path under ``path``. It must never fall back to defaults for bad input, coerce types, or
accept a config that another driver's decoder would reject for the same claim.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from .drivers import vendor_of
from .errors import ParameterError, describe_value, from_validation_error
from .model import API_VERSION, KIND, AcceleratorConfig
from .vendors import NO_SECTION_VENDORS, VENDOR_SECTIONS

MAX_PARAMETERS_BYTES: Final = 10 * 1024
"""The API server's limit on an opaque config's ``parameters`` (RawExtension), in bytes."""

SUPPORTED: Final = f"hdra supports apiVersion {API_VERSION} with kind {KIND}"


class _DuplicateKey(ValueError):
    """Raised from the JSON parser's pair hook; carries the repeated key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: the API server's strict decoding rejects repeated keys, and so do we,
    rather than silently keeping the last one."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    """JSON constant hook: ``NaN`` and ``Infinity`` are not JSON, though Python's parser allows them."""
    raise ValueError(f"{name} is not a JSON value")


def _as_text(parameters: bytes | str | Mapping[str, Any], path: str) -> str:
    """The JSON text of ``parameters`` (a mapping is encoded compactly), size-checked."""
    if isinstance(parameters, Mapping):
        try:
            text = json.dumps(parameters, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ParameterError(path, f"not representable as JSON: {err}") from err
    elif isinstance(parameters, bytes | bytearray):
        try:
            text = bytes(parameters).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ParameterError(path, f"not UTF-8 encoded JSON: {err}") from err
    elif isinstance(parameters, str):
        text = parameters
    else:
        raise ParameterError(
            path, f"expected JSON text or a JSON object, got a Python {type(parameters).__name__}"
        )
    size = len(text.encode("utf-8"))
    if size > MAX_PARAMETERS_BYTES:
        raise ParameterError(path, f"{size} bytes exceed the limit of {MAX_PARAMETERS_BYTES} bytes (10 KiB)")
    return text


def _parse_object(text: str, path: str) -> dict[str, Any]:
    """Parse ``text`` as one JSON object."""
    try:
        parsed = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as err:
        raise ParameterError(path, f"duplicate field {err.key!r} in a JSON object") from err
    except ValueError as err:  # json.JSONDecodeError is a ValueError, as is _reject_constant's
        raise ParameterError(path, f"not valid JSON: {err}") from err
    if not isinstance(parsed, dict):
        raise ParameterError(
            path, f"expected a JSON object with apiVersion and kind, got {describe_value(parsed)}"
        )
    return parsed


def _check_type_fields(obj: Mapping[str, Any], path: str) -> None:
    """``apiVersion`` and ``kind`` must be present and name what we decode; say what is supported."""
    if "apiVersion" not in obj:
        raise ParameterError(f"{path}.apiVersion", f"field required; {SUPPORTED}")
    if obj["apiVersion"] != API_VERSION:
        raise ParameterError(
            f"{path}.apiVersion", f"unsupported apiVersion {describe_value(obj['apiVersion'])}; {SUPPORTED}"
        )
    if "kind" not in obj:
        raise ParameterError(f"{path}.kind", f"field required; {SUPPORTED}")
    if obj["kind"] != KIND:
        raise ParameterError(f"{path}.kind", f"unsupported kind {describe_value(obj['kind'])}; {SUPPORTED}")


def _check_vendor_fields(obj: Mapping[str, Any], vendor: str, driver: str, path: str) -> None:
    """A vendor section is only for its own driver; a vendor without a section gets told so.

    Runs before the model so that the message names the driver rather than "extra inputs".
    """
    for name, owner in VENDOR_SECTIONS.items():
        if name in obj and obj[name] is not None and name != vendor:
            raise ParameterError(
                f"{path}.{name}", f"{name} extras are accepted only by driver {owner}, not by {driver}"
            )
    for name in NO_SECTION_VENDORS:
        if name in obj:
            raise ParameterError(
                f"{path}.{name}",
                f"{API_VERSION} {KIND} has no {name} extras; vendor extras exist for: "
                + ", ".join(VENDOR_SECTIONS),
            )


def decode_config(
    parameters: bytes | str | Mapping[str, Any], *, driver: str, path: str = "parameters"
) -> AcceleratorConfig:
    """Decode one opaque config's ``parameters`` for ``driver`` (one of ``HDRA_DRIVERS``).

    ``parameters`` is the raw JSON (bytes or str) or the object a Kubernetes client already
    parsed it into. ``path`` is where the parameters sit in the enclosing object, e.g.
    ``spec.devices.config[0].opaque.parameters``; every error message begins with it.
    Raises ``ParameterError`` for bad parameters and ``ValueError`` if ``driver`` is not ours.
    """
    vendor = vendor_of(driver)
    text = _as_text(parameters, path)
    obj = _parse_object(text, path)
    _check_type_fields(obj, path)
    _check_vendor_fields(obj, vendor, driver, path)
    try:
        # JSON mode: strict validation that still reads enum values from their JSON strings.
        return AcceleratorConfig.model_validate_json(text, strict=True)
    except ValidationError as err:
        raise from_validation_error(err, path) from err
