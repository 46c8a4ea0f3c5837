"""hdra's own Kubernetes models (dra_driver.kube.models) pinned to the API's OpenAPI schema.

The schema is the one kubernetes-validate ships for the newest supported Kubernetes version
(``kubernetes-json-schema/v1.36.0-local-strict/_definitions.json``, generated from upstream
api/openapi-spec). Every declared field must exist there under its wire name, with the same shape
(scalar kind, list, map, nested type) and the same requiredness; the ResourceSlice family, which
hdra publishes, must declare every field of the schema.
"""

from __future__ import annotations

import inspect
import types
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin

import pytest

from dra_driver.devcluster.schema import definitions, ref_name
from dra_driver.kube import models
from dra_driver.kube.features import DEFAULT_VERSION
from dra_driver.kube.models import KubeModel

MODELS = sorted(
    (obj for obj in vars(models).values() if inspect.isclass(obj) and issubclass(obj, KubeModel)),
    key=lambda cls: cls.__name__,
)
MODELS = [cls for cls in MODELS if cls is not KubeModel]

# What hdra writes in full: a field the server knows but hdra does not model would be invisible.
COMPLETE = {
    "ResourceSlice",
    "ResourceSliceSpec",
    "ResourcePool",
    "Device",
    "DeviceAttribute",
    "DeviceCapacity",
    "CapacityRequestPolicy",
    "CapacityRequestPolicyRange",
    "CounterSet",
    "Counter",
    "DeviceCounterConsumption",
    "DeviceTaint",
    "NodeSelector",
    "NodeSelectorTerm",
    "NodeSelectorRequirement",
    "ObjectMeta",
    "OwnerReference",
    "ObjectReference",
}

SCALARS = {str: "string", int: "integer", bool: "boolean"}
TIME_REFS = {"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}
QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _defs() -> dict[str, Any]:
    loaded: dict[str, Any] = definitions(DEFAULT_VERSION)["$defs"]
    return loaded


def _strip(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without Optional and Annotated, whether None was allowed)."""
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(get_args(annotation))
        assert len(args) == 1, f"unions other than Optional are not modelled: {annotation}"
        annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation, optional


def _schema_types(prop: dict[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind) - {"null"}


def _check_shape(where: str, annotation: Any, prop: dict[str, Any]) -> None:
    annotation, _ = _strip(annotation)
    ref = ref_name(prop["$ref"]) if "$ref" in prop else None
    if annotation is Any:
        return  # opaque JSON (RawExtension, or a part hdra leaves unmodelled): anything goes
    if get_origin(annotation) is dict and get_args(annotation)[1] is Any:
        # an unmodelled object: the schema must say object (directly or through a $ref)
        assert ref is not None or "object" in _schema_types(prop), f"{where}: schema says {prop}"
        return
    if inspect.isclass(annotation) and issubclass(annotation, KubeModel):
        assert ref == annotation.openapi, f"{where}: model {annotation.__name__} but schema $ref {ref}"
        return
    if annotation is datetime:
        assert ref in TIME_REFS, f"{where}: a time field, schema says {prop}"
        return
    if get_origin(annotation) is list:
        assert "array" in _schema_types(prop), f"{where}: a list, schema says {prop}"
        _check_shape(f"{where}[]", get_args(annotation)[0], prop["items"])
        return
    if get_origin(annotation) is dict:
        assert "object" in _schema_types(prop), f"{where}: a map, schema says {prop}"
        _check_shape(f"{where}{{}}", get_args(annotation)[1], prop["additionalProperties"])
        return
    if annotation is str and ref == QUANTITY_REF:
        return
    assert annotation in SCALARS, f"{where}: unexpected annotation {annotation}"
    assert SCALARS[annotation] in _schema_types(prop), f"{where}: {annotation.__name__}, schema says {prop}"


@pytest.mark.parametrize("model", MODELS, ids=lambda cls: cls.__name__)
def test_every_field_matches_the_openapi_schema(model: type[KubeModel]) -> None:
    defs = _defs()
    assert model.openapi in defs, f"{model.__name__}.openapi {model.openapi!r} is not an API type"
    schema = defs[model.openapi]
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    declared: set[str] = set()
    for name, field in model.model_fields.items():
        wire = field.serialization_alias or field.alias or name
        declared.add(wire)
        where = f"{model.__name__}.{name} ({wire})"
        assert wire in properties, f"{where}: no such field in {model.openapi}"
        _check_shape(where, field.annotation, properties[wire])
        _, optional = _strip(field.annotation)
        if wire in required:
            assert field.is_required() and not optional, f"{where}: required by the API, optional here"
        else:
            assert not field.is_required(), f"{where}: optional in the API, required here"
    if model.__name__ in COMPLETE:
        missing = set(properties) - declared
        assert not missing, f"{model.__name__} does not model {sorted(missing)}"


def test_the_check_catches_a_misspelt_field() -> None:
    """The pin itself can fail: a model with a wrong wire name is refused."""

    class Misspelt(KubeModel):
        openapi = "io.k8s.api.resource.v1.ResourcePool"
        name: str
        generation: int
        resource_slices_count: int  # the API calls it resourceSliceCount

    with pytest.raises(AssertionError, match="resourceSlicesCount"):
        test_every_field_matches_the_openapi_schema(Misspelt)


def test_wire_names_and_unknown_fields_round_trip() -> None:
    """camelCase on the wire, both spellings accepted, fields hdra does not model written back."""
    wire = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "7", "futureMeta": "x"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "c"}}]}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": "gpu", "driver": "d", "pool": "p", "device": "g0", "shareID": "s1"}
                    ]
                }
            },
            "futureStatus": {"a": [1, 2]},
        },
    }
    claim = models.ResourceClaim.model_validate(wire)
    assert claim.metadata is not None
    assert claim.metadata.resource_version == "7"
    assert claim.status is not None and claim.status.allocation is not None
    assert claim.status.allocation.devices is not None
    assert claim.status.allocation.devices.results is not None
    assert claim.status.allocation.devices.results[0].share_id == "s1"
    assert claim.to_json() == wire
    by_name = models.ObjectMeta.model_validate({"resource_version": "8"})
    assert by_name.to_json() == {"resourceVersion": "8"}


def test_scalars_are_strict() -> None:
    with pytest.raises(ValueError, match="generation"):
        models.ResourcePool.model_validate({"name": "p", "generation": "1", "resourceSliceCount": 1})
