"""The conformance corpus: DRA objects, valid and invalid, that both API servers are sent.

Owns: ``CASES`` (name, what hdra does with that kind of object, the object or status update) and
the builders. ``hdra`` marks the cases of objects hdra itself writes or reads (its slices, claim
status as the scheduler writes it, the webhook's templates and claims, the chart's DeviceClass):
on those the dev cluster must agree with the real kube-apiserver. The rest probe general
validation; where the dev cluster stays different, ``dra_driver/devcluster/__init__.py`` says so.
It must never talk to a server; ``test_conformance.py`` sends the cases.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from dra_driver.devices import make_backend
from dra_driver.slices import SharingMode, build_slices

DRIVER = "nvidia.hdra.io"
NODE = "conformance-node"
Obj = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One request. ``kind`` is the plural resource; ``status`` cases first create ``obj`` without
    status, then PUT ``obj`` (with its status) to the status subresource."""

    name: str
    kind: str
    obj: Obj
    hdra: bool = False
    status: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


def _slices(mode: SharingMode, profile: str = "a100x4") -> list[Obj]:
    devices = make_backend("mock", node_name=NODE, profile=profile).discover()
    out = []
    for slice_ in build_slices(devices, driver=DRIVER, node_name=NODE, mode=mode):
        out.append(slice_.model_dump(by_alias=True, exclude_none=True, mode="json"))
    return out


def _slice(**spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "probe"},
        "spec": {
            "driver": DRIVER,
            "nodeName": NODE,
            "pool": {"name": NODE, "generation": 1, "resourceSliceCount": 1},
        },
    }
    base["spec"].update(spec)
    return base


def _devices(count: int, **extra: Any) -> list[Obj]:
    return [{"name": f"d-{i}", **copy.deepcopy(extra)} for i in range(count)]


def _claim(requests: list[Obj], **devices: Any) -> Obj:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "probe"},
        "spec": {"devices": {"requests": requests, **devices}},
    }


def _exactly(**fields: Any) -> Obj:
    return {"name": "gpu", "exactly": {"deviceClassName": DRIVER, **fields}}


def _template(claim: Obj) -> Obj:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "probe"},
        "spec": {"spec": claim["spec"]},
    }


def _class(**spec: Any) -> Obj:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "probe.hdra.io"},
        "spec": spec,
    }


def _allocation(device: str = "gpu-0", **result: Any) -> Obj:
    return {
        "devices": {
            "results": [{"request": "gpu", "driver": DRIVER, "pool": NODE, "device": device, **result}]
        },
        "nodeSelector": {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [NODE]}]}
            ]
        },
    }


def _status_claim(status: Obj) -> Obj:
    claim = _claim([_exactly()])
    claim["status"] = status
    return claim


def _pod_ref(uid: str = "2d8b2f6e-53f5-4a3e-9d8a-2d7c2f6e53f5") -> Obj:
    return {"resource": "pods", "name": "worker", "uid": uid}


def _hdra_slices() -> list[Case]:
    cases = []
    for mode in (SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS, SharingMode.EXCLUSIVE):
        for profile in ("a100x4", "ascend910bx8"):
            for index, obj in enumerate(_slices(mode, profile)):
                cases.append(
                    Case(f"hdra slice {profile} {mode.value} #{index}", "resourceslices", obj, hdra=True)
                )
    return cases


# Quantity spellings whose canonical form differs from (or equals) the input, in every format.
SPELLINGS = ("1024Mi", "1536Mi", "1.5Gi", "2000", "1500", "0.5", "1000m", "1e3", "5e-3", "100", "2000k", "0")

CEL_OK = {"cel": {"expression": f'device.driver == "{DRIVER}"'}}

CASES: list[Case] = [
    *_hdra_slices(),
    # --- ResourceSlices -----------------------------------------------------------------------
    Case(
        "slice: counter name not a DNS label",
        "resourceslices",
        _slice(sharedCounters=[{"name": "c", "counters": {"aiCore": {"value": "20"}}}]),
        hdra=True,
    ),
    Case(
        "slice: 65 devices with a taint",
        "resourceslices",
        _slice(devices=_devices(65, taints=[{"key": "x.io/t", "effect": "NoSchedule"}])),
        hdra=True,
    ),
    Case(
        "slice: 64 devices with a taint",
        "resourceslices",
        _slice(devices=_devices(64, taints=[{"key": "x.io/t", "effect": "NoSchedule"}])),
        hdra=True,
    ),
    Case("slice: 128 devices", "resourceslices", _slice(devices=_devices(128)), hdra=True),
    Case("slice: 129 devices", "resourceslices", _slice(devices=_devices(129)), hdra=True),
    Case(
        "slice: duplicate device names",
        "resourceslices",
        _slice(devices=[{"name": "a"}, {"name": "a"}]),
        hdra=True,
    ),
    Case("slice: device name not a DNS label", "resourceslices", _slice(devices=[{"name": "GPU_0"}])),
    Case(
        "slice: attribute name with two slashes",
        "resourceslices",
        _slice(devices=[{"name": "a", "attributes": {"a/b/c": {"string": "x"}}}]),
    ),
    Case(
        "slice: attribute name not a C identifier",
        "resourceslices",
        _slice(devices=[{"name": "a", "attributes": {"my-attr": {"string": "x"}}}]),
    ),
    Case(
        "slice: attribute with two values",
        "resourceslices",
        _slice(devices=[{"name": "a", "attributes": {"x": {"string": "x", "int": 1}}}]),
    ),
    Case(
        "slice: version attribute not semver",
        "resourceslices",
        _slice(devices=[{"name": "a", "attributes": {"v": {"version": "1.2"}}}]),
    ),
    Case(
        "slice: string attribute of 65 characters",
        "resourceslices",
        _slice(devices=[{"name": "a", "attributes": {"s": {"string": "x" * 65}}}]),
        hdra=True,
    ),
    Case(
        "slice: malformed capacity quantity",
        "resourceslices",
        _slice(devices=[{"name": "a", "capacity": {"memory": {"value": "12Gx"}}}]),
    ),
    Case(
        "slice: non-canonical quantity",
        "resourceslices",
        _slice(devices=[{"name": "a", "capacity": {"memory": {"value": "1024Mi"}}}]),
        hdra=True,
        tags=("canonical",),
    ),
    Case(
        "slice: quantities in many spellings",
        "resourceslices",
        _slice(
            devices=[
                {"name": f"q-{index}", "capacity": {"memory": {"value": spelling}}}
                for index, spelling in enumerate(SPELLINGS)
            ]
        ),
        hdra=True,
        tags=("canonical",),
    ),
    Case(
        "slice: request policy default above max",
        "resourceslices",
        _slice(
            devices=[
                {
                    "name": "a",
                    "allowMultipleAllocations": True,
                    "capacity": {
                        "memory": {
                            "value": "10Gi",
                            "requestPolicy": {"default": "20Gi", "validRange": {"min": "1Mi", "max": "10Gi"}},
                        }
                    },
                }
            ]
        ),
        hdra=True,
    ),
    Case(
        "slice: request policy with range and values",
        "resourceslices",
        _slice(
            devices=[
                {
                    "name": "a",
                    "allowMultipleAllocations": True,
                    "capacity": {
                        "memory": {
                            "value": "10Gi",
                            "requestPolicy": {
                                "default": "1Gi",
                                "validValues": ["1Gi"],
                                "validRange": {"min": "1Mi"},
                            },
                        }
                    },
                }
            ]
        ),
        hdra=True,
    ),
    Case(
        "slice: request policy default not in values",
        "resourceslices",
        _slice(
            devices=[
                {
                    "name": "a",
                    "allowMultipleAllocations": True,
                    "capacity": {
                        "memory": {
                            "value": "10Gi",
                            "requestPolicy": {"default": "2Gi", "validValues": ["1Gi"]},
                        }
                    },
                }
            ]
        ),
        hdra=True,
    ),
    Case(
        "slice: taint without effect",
        "resourceslices",
        _slice(devices=[{"name": "a", "taints": [{"key": "x.io/t"}]}]),
        hdra=True,
    ),
    Case(
        "slice: taint with a bad key",
        "resourceslices",
        _slice(devices=[{"name": "a", "taints": [{"key": "not a key", "effect": "NoSchedule"}]}]),
    ),
    Case(
        "slice: consumes an unknown counter set",
        "resourceslices",
        _slice(
            devices=[
                {
                    "name": "a",
                    "consumesCounters": [{"counterSet": "nope", "counters": {"memory": {"value": "1Gi"}}}],
                }
            ]
        ),
        hdra=True,
    ),
    Case(
        "slice: devices and sharedCounters together",
        "resourceslices",
        _slice(
            devices=[{"name": "a"}], sharedCounters=[{"name": "c", "counters": {"memory": {"value": "1Gi"}}}]
        ),
        hdra=True,
    ),
    Case("slice: nodeName and allNodes", "resourceslices", _slice(allNodes=True)),
    Case(
        "slice: no node selection",
        "resourceslices",
        {
            **_slice(),
            "spec": {"driver": DRIVER, "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1}},
        },
    ),
    Case(
        "slice: driver not a DNS subdomain",
        "resourceslices",
        {**_slice(), "spec": {**_slice()["spec"], "driver": "Bad_Driver"}},
    ),
    Case(
        "slice: pool generation negative",
        "resourceslices",
        {
            **_slice(),
            "spec": {**_slice()["spec"], "pool": {"name": NODE, "generation": -1, "resourceSliceCount": 1}},
        },
    ),
    # --- DeviceClasses --------------------------------------------------------------------------
    Case("class: the chart's DeviceClass", "deviceclasses", _class(selectors=[CEL_OK]), hdra=True),
    Case(
        "class: CEL that does not compile",
        "deviceclasses",
        _class(selectors=[{"cel": {"expression": "device.("}}]),
    ),
    Case(
        "class: CEL that is not boolean",
        "deviceclasses",
        _class(selectors=[{"cel": {"expression": "device.driver"}}]),
    ),
    Case(
        "class: CEL naming an unknown field",
        "deviceclasses",
        _class(selectors=[{"cel": {"expression": "device.nothing == 1"}}]),
    ),
    Case(
        "class: opaque config with a bad driver",
        "deviceclasses",
        _class(config=[{"opaque": {"driver": "Bad_Driver", "parameters": {"a": 1}}}]),
    ),
    # --- ResourceClaims -------------------------------------------------------------------------
    Case(
        "claim: capacity request (the webhook's shape)",
        "resourceclaims",
        _claim([_exactly(capacity={"requests": {"memory": "3000Mi", "cores": "30"}})]),
        hdra=True,
    ),
    Case(
        "claim: defaults (no allocationMode, no count)",
        "resourceclaims",
        _claim([_exactly()]),
        hdra=True,
        tags=("defaults",),
    ),
    Case(
        "claim: toleration without operator",
        "resourceclaims",
        _claim([_exactly(tolerations=[{"key": "x.io/t", "value": "v", "effect": "NoSchedule"}])]),
        hdra=True,
        tags=("defaults",),
    ),
    Case(
        "claim: toleration Exists with a value",
        "resourceclaims",
        _claim([_exactly(tolerations=[{"key": "x.io/t", "operator": "Exists", "value": "v"}])]),
    ),
    Case("claim: count 0", "resourceclaims", _claim([_exactly(count=0)]), hdra=True),
    Case(
        "claim: allocationMode All with count",
        "resourceclaims",
        _claim([_exactly(allocationMode="All", count=2)]),
        hdra=True,
    ),
    Case("claim: unknown allocationMode", "resourceclaims", _claim([_exactly(allocationMode="Some")])),
    Case(
        "claim: CEL that does not compile",
        "resourceclaims",
        _claim([_exactly(selectors=[{"cel": {"expression": "device.attributes["}}])]),
        hdra=True,
    ),
    Case("claim: no deviceClassName", "resourceclaims", _claim([{"name": "gpu", "exactly": {}}]), hdra=True),
    Case(
        "claim: request name not a DNS label",
        "resourceclaims",
        _claim([{"name": "GPU", "exactly": {"deviceClassName": DRIVER}}]),
    ),
    Case("claim: duplicate request names", "resourceclaims", _claim([_exactly(), _exactly()]), hdra=True),
    Case(
        "claim: constraint naming an unknown request",
        "resourceclaims",
        _claim([_exactly()], constraints=[{"requests": ["other"], "matchAttribute": f"{DRIVER}/uuid"}]),
    ),
    Case(
        "claim: distinctAttribute (the webhook's 2-card shape)",
        "resourceclaims",
        _claim(
            [_exactly(count=2)], constraints=[{"requests": ["gpu"], "distinctAttribute": f"{DRIVER}/uuid"}]
        ),
        hdra=True,
    ),
    Case(
        "claim: firstAvailable and exactly together",
        "resourceclaims",
        _claim(
            [
                {
                    "name": "gpu",
                    "exactly": {"deviceClassName": DRIVER},
                    "firstAvailable": [{"name": "a", "deviceClassName": DRIVER}],
                }
            ]
        ),
    ),
    Case(
        "claim: opaque config for no request",
        "resourceclaims",
        _claim(
            [_exactly()], config=[{"requests": ["other"], "opaque": {"driver": DRIVER, "parameters": {}}}]
        ),
    ),
    Case(
        "claim: capacity request not a quantity",
        "resourceclaims",
        _claim([_exactly(capacity={"requests": {"memory": "lots"}})]),
        hdra=True,
    ),
    Case(
        "claim: non-canonical capacity request",
        "resourceclaims",
        _claim([_exactly(capacity={"requests": {"memory": "1024Mi"}})]),
        hdra=True,
        tags=("canonical",),
    ),
    Case(
        "template: the webhook's template",
        "resourceclaimtemplates",
        _template(_claim([_exactly(capacity={"requests": {"memory": "3000Mi", "cores": "30"}})])),
        hdra=True,
    ),
    Case("template: count 0", "resourceclaimtemplates", _template(_claim([_exactly(count=0)])), hdra=True),
    Case(
        "template: CEL that does not compile",
        "resourceclaimtemplates",
        _template(_claim([_exactly(selectors=[{"cel": {"expression": "("}}])])),
        hdra=True,
    ),
    # --- Claim status updates -------------------------------------------------------------------
    Case(
        "status: allocation and reservedFor (the scheduler's write)",
        "resourceclaims",
        _status_claim({"allocation": _allocation(), "reservedFor": [_pod_ref()]}),
        hdra=True,
        status=True,
    ),
    Case(
        "status: allocation with consumed capacity and share id",
        "resourceclaims",
        _status_claim(
            {
                "allocation": _allocation(
                    consumedCapacity={"memory": "3000Mi"}, shareID="7c3e0c55-8d6f-4a52-9d52-5d3fd2e3a4b1"
                )
            }
        ),
        hdra=True,
        status=True,
    ),
    Case(
        "status: reservedFor without allocation",
        "resourceclaims",
        _status_claim({"reservedFor": [_pod_ref()]}),
        hdra=True,
        status=True,
    ),
    Case(
        "status: result for an unknown request",
        "resourceclaims",
        _status_claim({"allocation": _allocation(request="other")}),
        hdra=True,
        status=True,
    ),
    Case(
        "status: result with a bad device name",
        "resourceclaims",
        _status_claim({"allocation": _allocation(device="GPU_0")}),
        status=True,
    ),
    Case(
        "status: duplicate reservedFor",
        "resourceclaims",
        _status_claim({"allocation": _allocation(), "reservedFor": [_pod_ref(), _pod_ref()]}),
        hdra=True,
        status=True,
    ),
    Case(
        "status: share id not a UUID",
        "resourceclaims",
        _status_claim({"allocation": _allocation(shareID="not-a-uuid")}),
        hdra=True,
        status=True,
    ),
]
