"""The validating webhook: opaque hdra configs in claims, templates and classes; the pod rule.

Owns: ``Validator.validate``. For ResourceClaim and ResourceClaimTemplate (``resource.k8s.io``
v1, v1beta2 and v1beta1; the config list has one shape in all three, and v1beta1's flat requests
are only read for their names) and DeviceClass, every opaque config whose driver is an hdra
driver must decode (``decode_config``); the denial names the object, the requests each bad config
applies to, and the field path from ``ParameterError``, for every bad config at once; and a
negative capacity request of an hdra class (``capacity_requests``). For Pods it
applies ``pod_claims.claim_conflicts`` and ``pod_claims.pid_namespace_conflicts``. DELETE and
other kinds are allowed untouched. It must never change an object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from dra_driver.kube import KubeClient
from dra_driver.parameters import ParameterError, decode_config, is_hdra_driver
from dra_driver.webhook.capacity_requests import negative_capacity_errors
from dra_driver.webhook.cluster import claim_spec_of, template_spec_of
from dra_driver.webhook.convert import describe_pod
from dra_driver.webhook.errors import BAD_INPUT, FORBIDDEN, Denial
from dra_driver.webhook.pod_claims import claim_conflicts, pid_namespace_conflicts
from dra_driver.webhook.review import ALLOW, AdmissionRequest, Verdict, deny
from dra_driver.webhook.state import WatchedState

RESOURCE_GROUP: Final = "resource.k8s.io"
RESOURCE_VERSIONS: Final = ("v1", "v1beta2", "v1beta1")


def _requests_text(config: Mapping[str, Any], all_requests: list[str]) -> str:
    named = [str(r) for r in config.get("requests") or []]
    if named:
        return f"request{'s' if len(named) > 1 else ''} {', '.join(named)}"
    return f"all requests ({', '.join(all_requests)})" if all_requests else "all requests"


def config_errors(configs: Any, base: str, request_names: list[str]) -> list[str]:
    """One message per opaque hdra config under ``base`` (``spec.devices``) that does not decode."""
    if not isinstance(configs, list):
        return []
    found: list[str] = []
    for index, config in enumerate(configs):
        if not isinstance(config, Mapping):
            continue
        opaque = config.get("opaque")
        if not isinstance(opaque, Mapping) or not is_hdra_driver(str(opaque.get("driver"))):
            continue
        path = f"{base}.config[{index}].opaque.parameters"
        parameters = opaque.get("parameters")
        try:
            if parameters is None:
                raise ParameterError(path, "field required: hdra drivers need an AcceleratorConfig here")
            decode_config(parameters, driver=str(opaque["driver"]), path=path)
        except ParameterError as err:
            found.append(
                f"config[{index}] for {opaque['driver']} ({_requests_text(config, request_names)}): {err}"
            )
    return found


def _object_at(obj: Mapping[str, Any], path: str, who: str) -> Mapping[str, Any]:
    """The map at dotted ``path`` of ``obj`` ({} when absent); a Denial (400) naming the field when a
    value on the way is not a map: the API server never sends such an object, a hand-made review may."""
    current: Any = obj
    walked: list[str] = []
    for key in path.split("."):
        walked.append(key)
        current = current.get(key) if isinstance(current, Mapping) else None
        if current is None:
            return {}
        if not isinstance(current, Mapping):
            raise Denial(
                f"{who}: {'.'.join(walked)} must be an object, got {type(current).__name__}", BAD_INPUT
            )
    found: Mapping[str, Any] = current
    return found


def _list_at(container: Mapping[str, Any], key: str, where: str, who: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Denial(f"{who}: {where}.{key} must be a list, got {type(value).__name__}", BAD_INPUT)
    return value


def _devices(obj: Mapping[str, Any], kind: str, who: str) -> tuple[Mapping[str, Any], str]:
    base = "spec.spec.devices" if kind == "ResourceClaimTemplate" else "spec.devices"
    return _object_at(obj, base, who), base


class _ApiClaimSpecs:
    """``pod_claims.ClaimSpecs`` over a KubeClient; the webhook's own generated templates come from
    its template watch when it holds them (a template's spec cannot change: it is immutable, and
    the generated ones are named after a hash of it)."""

    def __init__(self, kube: KubeClient, state: WatchedState | None) -> None:
        self._kube = kube
        self._state = state

    def claim(self, namespace: str, name: str) -> dict[str, Any] | None:
        return claim_spec_of(self._kube, namespace, name)

    def template(self, namespace: str, name: str) -> dict[str, Any] | None:
        watched = self._state.template(namespace, name) if self._state is not None else None
        if watched is not None and watched.spec is not None:
            return dict(watched.spec)
        return template_spec_of(self._kube, namespace, name)


class Validator:
    """Decides ``/validate`` requests; ``kube`` is needed only to read the claims a pod names."""

    def __init__(self, kube: KubeClient | None, state: WatchedState | None = None) -> None:
        self._kube = kube
        self._state = state

    def validate(self, request: AdmissionRequest) -> Verdict:
        obj = request.object
        if request.operation == "DELETE" or obj is None:
            return ALLOW
        if request.group == RESOURCE_GROUP and request.version in RESOURCE_VERSIONS:
            who = request.describe()
            if request.kind in ("ResourceClaim", "ResourceClaimTemplate"):
                devices, base = _devices(obj, request.kind, who)
                requests = _list_at(devices, "requests", base, who)
                names = [str(r.get("name")) for r in requests if isinstance(r, Mapping)]
                configs = _list_at(devices, "config", base, who)
                errors = config_errors(configs, base, names) + negative_capacity_errors(requests, base)
                return self._verdict(request, errors)
            if request.kind == "DeviceClass":
                spec = _object_at(obj, "spec", who)
                return self._verdict(
                    request, config_errors(_list_at(spec, "config", "spec", who), "spec", [])
                )
        if request.group == "" and request.kind == "Pod" and self._kube is not None:
            who = describe_pod(obj, request.namespace)
            specs = _ApiClaimSpecs(self._kube, self._state)
            problems = claim_conflicts(obj, request.namespace, who, specs)
            problems += pid_namespace_conflicts(obj, request.namespace, who, specs)
            return deny("; ".join(problems), FORBIDDEN) if problems else ALLOW
        return ALLOW

    @staticmethod
    def _verdict(request: AdmissionRequest, errors: list[str]) -> Verdict:
        if not errors:
            return ALLOW
        return deny(f"{request.describe()}: invalid hdra parameters: " + "; ".join(errors), BAD_INPUT)
