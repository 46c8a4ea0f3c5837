"""Device request rules of upstream's resource validation that the OpenAPI schema cannot express.

Owns, for ResourceClaims, ResourceClaimTemplates (both at create; an update only checks that the
spec is unchanged, as upstream) and DeviceClasses (create and update), what
k8s.io/kubernetes pkg/apis/resource/validation/validation.go checks and hdra's users trip over:

* ``validateDeviceAllocationMode``: with ``ExactCount`` (the default) a ``count`` below 1 is
  ``must be greater than zero``; a missing or 0 count is defaulted to 1 first (v1
  ``SetDefaults_ExactDeviceRequest``), so only a negative count fails. With ``All`` a count other
  than 0 is ``must not be specified when allocationMode is 'All'``.
* ``validateCELExpression``: a selector longer than 10 KiB is ``Too long``; one that does not parse
  is ``Invalid value: "<expr>": compilation failed: <the parser's issues>``. Type checking (unknown
  identifiers, a non-bool result) and cost estimation are not modelled.

Capacity requests (``exactly.capacity.requests``) have no validation upstream in 1.36 (declarative
validation says "has no validation"), so a negative one is stored here too; hdra's webhook and
prepare refuse it instead. This module must never mutate objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dra_driver.devcluster.errors import Cause
from dra_driver.runtime.cel_loader import cel

MAX_EXPRESSION_LENGTH = 10 * 1024  # resource.CELSelectorExpressionMaxLength
_PARSER_PREFIX = "Failed to parse expression "


def claim_spec_causes(spec: Mapping[str, Any], path: str) -> list[Cause]:
    """Every request (and firstAvailable sub-request) of a claim spec at ``path``."""
    devices = spec.get("devices") if isinstance(spec, Mapping) else None
    if not isinstance(devices, Mapping):
        return []
    causes: list[Cause] = []
    for index, request in enumerate(devices.get("requests") or []):
        if not isinstance(request, Mapping):
            continue
        where = f"{path}.devices.requests[{index}]"
        exactly = request.get("exactly")
        if isinstance(exactly, Mapping):
            causes += _request_causes(exactly, f"{where}.exactly")
        for sub_index, sub in enumerate(request.get("firstAvailable") or []):
            if isinstance(sub, Mapping):
                causes += _request_causes(sub, f"{where}.firstAvailable[{sub_index}]")
    return causes


def class_spec_causes(spec: Mapping[str, Any]) -> list[Cause]:
    """The selectors of a DeviceClass spec."""
    return selector_causes(spec.get("selectors") if isinstance(spec, Mapping) else None, "spec.selectors")


def _request_causes(request: Mapping[str, Any], path: str) -> list[Cause]:
    selectors = selector_causes(request.get("selectors"), f"{path}.selectors")
    return [*_allocation_mode_causes(request, path), *selectors]


def _allocation_mode_causes(request: Mapping[str, Any], path: str) -> list[Cause]:
    mode = request.get("allocationMode") or "ExactCount"
    count = request.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        return []  # a wrong type is the schema's finding; a missing count is defaulted
    if mode == "ExactCount" and count < 0:
        return [_invalid(f"{path}.count", str(count), "must be greater than zero")]
    if mode == "All" and count != 0:
        return [_invalid(f"{path}.count", str(count), "must not be specified when allocationMode is 'All'")]
    return []


def selector_causes(selectors: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for index, selector in enumerate(selectors if isinstance(selectors, list) else []):
        cel_selector = selector.get("cel") if isinstance(selector, Mapping) else None
        expression = cel_selector.get("expression") if isinstance(cel_selector, Mapping) else None
        if isinstance(expression, str):
            cause = expression_cause(expression, f"{path}[{index}].cel.expression")
            if cause is not None:
                causes.append(cause)
    return causes


def expression_cause(expression: str, field: str) -> Cause | None:
    """Why the API server would refuse ``expression`` as a selector at ``field``, or None."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return Cause(
            field, f"Too long: may not be more than {MAX_EXPRESSION_LENGTH} bytes", "FieldValueTooLong"
        )
    try:
        cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        issues = str(exc)
        if issues.startswith(_PARSER_PREFIX):  # "Failed to parse expression '<expr>': ERROR: ..."
            issues = issues.split("': ", 1)[-1]
        return _invalid(field, json.dumps(expression), f"compilation failed: {issues}")
    return None


def _invalid(field: str, rendered: str, detail: str) -> Cause:
    """Upstream ``field.Invalid``: ``Invalid value: <value>: <detail>``."""
    return Cause(field, f"Invalid value: {rendered}: {detail}")
