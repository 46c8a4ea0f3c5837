"""Hypothesis strategies for whole allocation cases: a node, gates, classes, slices, allocated claims, claims.

A case is one question to both allocators: "allocate these claims on node n1". The vocabulary is
small on purpose, so that values collide (same model, same numa, same counters) and the hard paths
run: consumable capacity with every requestPolicy kind, partitionable devices (counter sets in
their own slices, several sets, unknown sets/counters), firstAvailable, matchAttribute and
distinctAttribute (also on list attributes), allocationMode All, admin access, taints and
tolerations, binding conditions, slices for nodeName/allNodes/nodeSelector/perDeviceNodeSelection,
pools over several slices and nodes, incomplete and invalid pools, older generations, selectors
that fail at run time or need a gate, already-allocated claims (exclusive, shared, admin), and
claims above the 32-device limit. Every case is valid API input (what the API server would store).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dra_driver.sim.gates import KUBE_VERSIONS, FeatureGates

GPU = "gpu.example.com"
NIC = "nic.example.com"
NODE = "n1"
A = f'device.attributes["{GPU}"]'
CAP = f'device.capacity["{GPU}"]'

SELECTORS = (
    f'{A}.model == "A"',
    f"{A}.numa == 1",
    f'"model" in {A}',
    f"has({A}.healthy) && {A}.healthy",
    f'{CAP}.memory.compareTo(quantity("10Gi")) >= 0',  # runtime error on a device without memory
    f'{A}.ver.isGreaterThan(semver("1.5.0"))',  # runtime error without ver
    f"{A}.missing == 1",  # always a runtime error
    "device.allowMultipleAllocations",
    f'{A}.model.includes("A")',  # stored expressions may use includes whatever the gates
    f'device.driver == "{GPU}"',
)
SAFE_SELECTORS = SELECTORS[:4] + SELECTORS[-1:]

QUANTITIES = ("4Gi", "8Gi", "10Gi", "16Gi", "20Gi", "40Gi")


def gates() -> st.SearchStrategy[FeatureGates]:
    @st.composite
    def build(draw: st.DrawFn) -> FeatureGates:
        version = draw(st.sampled_from(KUBE_VERSIONS))
        overrides: dict[str, bool] = {}
        for name in (
            "DRAConsumableCapacity",
            "DRAPartitionableDevices",
            "DRADeviceTaints",
            "DRAPrioritizedList",
        ):
            if draw(st.integers(0, 7 if name == "DRAPrioritizedList" else 3)) == 0:
                overrides[name] = draw(st.booleans())
        if version == "1.36" and draw(st.booleans()):
            overrides["DRAListTypeAttributes"] = True
        if draw(st.integers(0, 3)) == 0:
            binding = draw(st.booleans())
            overrides["DRADeviceBindingConditions"] = binding
            if binding:
                overrides["DRAResourceClaimDeviceStatus"] = True
        if version != "1.36" and draw(st.integers(0, 5)) == 0:
            overrides["DRAAdminAccess"] = False
        return FeatureGates.for_version(version, overrides)

    return build()


def _attributes(draw: st.DrawFn) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if draw(st.integers(0, 19)):
        attributes["model"] = {"string": draw(st.sampled_from("AB"))}
    if draw(st.integers(0, 9)):
        attributes[f"{GPU}/numa"] = {"int": draw(st.integers(0, 1))}
    if draw(st.booleans()):
        attributes["healthy"] = {"bool": draw(st.booleans())}
    if draw(st.booleans()):
        attributes["ver"] = {"version": draw(st.sampled_from(("1.0.0", "2.1.0", "1.5.0")))}
    if draw(st.integers(0, 29)) == 0:
        attributes["tags"] = {
            "strings": draw(st.lists(st.sampled_from("xyz"), min_size=1, max_size=2, unique=True))
        }
    return attributes


def _capacity(draw: st.DrawFn) -> dict[str, Any]:
    if not draw(st.integers(0, 2)):
        return {}
    value = draw(st.sampled_from(("16Gi", "40Gi", "80Gi")))
    entry: dict[str, Any] = {"value": value}
    policy = draw(st.sampled_from(("none", "none", "values", "range", "default")))
    if policy == "values":
        values = sorted(draw(st.lists(st.sampled_from((4, 8, 16)), min_size=1, max_size=3, unique=True)))
        entry["requestPolicy"] = {"default": f"{values[0]}Gi", "validValues": [f"{v}Gi" for v in values]}
    elif policy == "range":
        step = draw(st.sampled_from((None, 2, 4)))
        rng: dict[str, Any] = {"min": "4Gi"}
        if draw(st.booleans()):
            rng["max"] = "20Gi"
        if step:
            rng["step"] = f"{step}Gi"
        entry["requestPolicy"] = {"default": "4Gi", "validRange": rng}
    elif policy == "default":
        entry["requestPolicy"] = {"default": "8Gi"}
    capacity: dict[str, Any] = {"memory": entry}
    if draw(st.booleans()):
        capacity[f"{GPU}/cores"] = {"value": "100"}
    return capacity


def _device(draw: st.DrawFn, name: str, counter_sets: list[str], per_device: bool) -> dict[str, Any]:
    device: dict[str, Any] = {"name": name}
    if attributes := _attributes(draw):
        device["attributes"] = attributes
    if capacity := _capacity(draw):
        device["capacity"] = capacity
    if draw(st.integers(0, 2)) == 0:
        device["allowMultipleAllocations"] = True
    consumes: bool = draw(st.booleans())
    if counter_sets and consumes:
        set_name = draw(st.sampled_from(counter_sets))
        counter = "memory" if draw(st.integers(0, 19)) else "bogus"
        device["consumesCounters"] = [
            {
                "counterSet": set_name,
                "counters": {counter: {"value": draw(st.sampled_from(("8Gi", "16Gi", "24Gi")))}},
            }
        ]
    if draw(st.integers(0, 6)) == 0:
        device["taints"] = [
            {
                "key": draw(st.sampled_from(("maint", "broken"))),
                "value": draw(st.sampled_from(("", "yes"))),
                "effect": draw(st.sampled_from(("NoSchedule", "NoExecute", "None"))),
            }
        ]
    if draw(st.integers(0, 6)) == 0:
        device["bindingConditions"] = ["ready"]
        device["bindingFailureConditions"] = ["failed"]
        if draw(st.booleans()):
            device["bindsToNode"] = True
    if per_device:
        mode = draw(st.sampled_from(("own", "other", "all", "selector")))
        if mode == "own":
            device["nodeName"] = NODE
        elif mode == "other":
            device["nodeName"] = "n2"
        elif mode == "all":
            device["allNodes"] = True
        else:
            device["nodeSelector"] = _selector(draw)
    return device


def _selector(draw: st.DrawFn) -> dict[str, Any]:
    requirement: dict[str, Any] = {
        "key": "zone",
        "operator": draw(st.sampled_from(("In", "NotIn", "Exists"))),
    }
    if requirement["operator"] != "Exists":
        requirement["values"] = [draw(st.sampled_from("ab"))]
    return {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}


def _targeting(draw: st.DrawFn, spanning: bool) -> dict[str, Any]:
    mode = draw(st.sampled_from(("own",) * 8 + ("other", "all", "selector", "per-device")))
    if mode == "other" and not spanning:
        mode = "own"
    if mode == "own":
        return {"nodeName": NODE}
    if mode == "other":
        return {"nodeName": "n2"}
    if mode == "all":
        return {"allNodes": True}
    if mode == "selector":
        return {"nodeSelector": _selector(draw)}
    return {"perDeviceNodeSelection": True}


def _pool(draw: st.DrawFn, driver: str, pool: str, stable: bool) -> list[dict[str, Any]]:
    """The slices of one pool (current generation, maybe an older one), maybe incomplete or invalid."""
    spanning = not stable and draw(st.booleans())
    counter_sets: list[str] = []
    slices: list[dict[str, Any]] = []
    if draw(st.integers(0, 2)) == 0:
        names = ["cs0"] if draw(st.booleans()) else ["cs0", "cs1"]
        shared = [
            {"name": n, "counters": {"memory": {"value": draw(st.sampled_from(("24Gi", "40Gi")))}}}
            for n in names
        ]
        if draw(st.integers(0, 9)) == 0:
            shared.append(dict(shared[0]))  # duplicate counter set: invalid pool
        counter_sets = names + (["cs9"] if draw(st.integers(0, 19)) == 0 else [])
        target = {"nodeName": NODE} if draw(st.booleans()) else {"allNodes": True}
        slices.append({"spec": {**target, "sharedCounters": shared}})
    count = draw(st.integers(1, 2))
    used: list[str] = []
    for index in range(count):
        targeting = _targeting(draw, spanning)
        names = [f"d{index}{i}" for i in range(draw(st.integers(1, 4)))]
        if used and draw(st.integers(0, 19)) == 0:
            names.append(used[0])  # duplicate device name: invalid pool (when both slices target n1)
        used.extend(names)
        devices = [
            _device(draw, name, counter_sets, bool(targeting.get("perDeviceNodeSelection"))) for name in names
        ]
        slices.append({"spec": {**targeting, "devices": devices}})
    generation = 2
    total = len(slices) + (1 if draw(st.integers(0, 19)) == 0 else 0)  # one slice missing: incomplete
    out = []
    for index, body in enumerate(slices):
        spec = {
            "driver": driver,
            "pool": {"name": pool, "generation": generation, "resourceSliceCount": total},
        }
        spec.update(body["spec"])
        out.append({"metadata": {"name": f"{pool}-s{index}"}, "spec": spec})
    if draw(st.integers(0, 7)) == 0:
        old: dict[str, Any] = {
            "driver": driver,
            "pool": {"name": pool, "generation": 1, "resourceSliceCount": 1},
            "nodeName": NODE,
        }
        old["devices"] = [{"name": "old0"}]
        out.append({"metadata": {"name": f"{pool}-old"}, "spec": old})
    return out


def _request(
    draw: st.DrawFn, name: str, sub: bool, gates: FeatureGates, classes: list[str]
) -> dict[str, Any]:
    weighted = [c for c in classes for _ in range({"gpu": 8, "any": 3}.get(c, 1))]
    body: dict[str, Any] = {"deviceClassName": draw(st.sampled_from(weighted))}
    if draw(st.integers(0, 7)) == 0:
        body["allocationMode"] = "All"
    else:
        body["count"] = draw(st.sampled_from((1,) * 30 + (2,) * 6 + (3, 3, 20, 33)))
    if draw(st.integers(0, 5)) == 0:
        body["selectors"] = [{"cel": {"expression": draw(st.sampled_from(SELECTORS))}}]
    elif draw(st.integers(0, 2)) == 0:
        body["selectors"] = [{"cel": {"expression": draw(st.sampled_from(SAFE_SELECTORS))}}]
    if draw(st.integers(0, 3 if gates.consumable_capacity else 15)) == 0:
        body["capacity"] = {"requests": {"memory": draw(st.sampled_from(QUANTITIES))}}
    if draw(st.integers(0, 3)) == 0:
        toleration: dict[str, Any] = {
            "key": draw(st.sampled_from(("maint", "broken"))),
            "operator": draw(st.sampled_from(("Exists", "Equal"))),
        }
        if toleration["operator"] == "Equal":
            toleration["value"] = draw(st.sampled_from(("", "yes")))
        if draw(st.booleans()):
            toleration["effect"] = draw(st.sampled_from(("NoSchedule", "NoExecute")))
        body["tolerations"] = [toleration]
    if not sub and draw(st.integers(0, 9)) == 0:
        body["adminAccess"] = draw(st.booleans())
    return {"name": name, **body}


def _claim(draw: st.DrawFn, name: str, gates: FeatureGates, classes: list[str]) -> dict[str, Any]:
    requests: list[dict[str, Any]] = []
    for index in range(draw(st.sampled_from((1, 1, 1, 2, 2, 3)))):
        request_name = f"r{index}"
        if draw(st.integers(0, 4 if gates.prioritized_list else 15)) == 0:
            subs = [_request(draw, f"s{i}", True, gates, classes) for i in range(draw(st.integers(1, 3)))]
            requests.append({"name": request_name, "firstAvailable": subs})
        else:
            body = _request(draw, request_name, False, gates, classes)
            body.pop("name")
            requests.append({"name": request_name, "exactly": body})
    devices: dict[str, Any] = {"requests": requests}
    constraints = []
    for _ in range(draw(st.integers(0, 2))):
        kinds = (
            ("matchAttribute",) * 5 + ("distinctAttribute",)
            if gates.channel == "stable"
            else ("matchAttribute", "distinctAttribute")
        )
        kind = draw(st.sampled_from(kinds))
        attribute = draw(st.sampled_from((f"{GPU}/model", f"{GPU}/numa", f"{GPU}/tags", f"{GPU}/healthy")))
        constraint: dict[str, Any] = {kind: attribute}
        if draw(st.booleans()):
            names = [r["name"] for r in requests]
            for r in requests:
                names += [f"{r['name']}/{s['name']}" for s in r.get("firstAvailable", ())]
            constraint["requests"] = draw(
                st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
            )
        constraints.append(constraint)
    if constraints:
        devices["constraints"] = constraints
    if draw(st.integers(0, 4)) == 0:
        config: dict[str, Any] = {"opaque": {"driver": GPU, "parameters": {"claim": name}}}
        if draw(st.booleans()):
            config["requests"] = [draw(st.sampled_from([r["name"] for r in requests]))]
        devices["config"] = [config]
    namespace = "ops" if draw(st.integers(0, 5)) == 0 else "default"
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"devices": devices},
    }


def _classes(draw: st.DrawFn) -> list[dict[str, Any]]:
    classes: list[dict[str, Any]] = [
        {
            "metadata": {"name": "gpu"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{GPU}"'}}]},
        },
        {
            "metadata": {"name": "nic"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{NIC}"'}}]},
        },
        {"metadata": {"name": "any"}, "spec": {}},
    ]
    if draw(st.booleans()):
        classes[0]["spec"]["config"] = [{"opaque": {"driver": GPU, "parameters": {"class": "gpu"}}}]
    if draw(st.integers(0, 5)) == 0:
        classes.append(
            {
                "metadata": {"name": "picky"},
                "spec": {"selectors": [{"cel": {"expression": draw(st.sampled_from(SELECTORS))}}]},
            }
        )
    return classes


def _allocated(draw: st.DrawFn, slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    devices = [
        (s["spec"]["driver"], s["spec"]["pool"]["name"], d["name"], d)
        for s in slices
        for d in s["spec"].get("devices") or ()
    ]
    claims = []
    for index in range(draw(st.integers(0, 2))):
        if not devices:
            break
        results = []
        for i, (driver, pool, name, device) in enumerate(
            draw(st.lists(st.sampled_from(devices), min_size=1, max_size=2, unique_by=lambda d: d[:3]))
        ):
            result: dict[str, Any] = {"request": "r", "driver": driver, "pool": pool, "device": name}
            kind = draw(st.sampled_from(("exclusive", "shared", "shared", "admin")))
            if kind == "admin":
                result["adminAccess"] = True
            elif kind == "shared":
                result["shareID"] = f"00000000-0000-4000-8000-00000000000{index}{i}"
                if "capacity" in device and draw(st.integers(0, 3)):
                    result["consumedCapacity"] = {"memory": draw(st.sampled_from(("4Gi", "8Gi", "16Gi")))}
            results.append(result)
        claims.append(
            {
                "metadata": {"name": f"held{index}", "namespace": "default", "uid": f"uid-held{index}"},
                "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "any"}}]}},
                "status": {"allocation": {"devices": {"results": results}}},
            }
        )
    return claims


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """One case in the oracle's input shape (``gates`` as a FeatureGates, converted by the test)."""
    chosen = draw(gates())
    stable = chosen.channel == "stable"
    pools = 1 if stable else draw(st.integers(1, 3))
    slices: list[dict[str, Any]] = []
    for index in range(pools):
        driver = GPU if index < 2 or draw(st.booleans()) else NIC
        slices += _pool(draw, driver, f"p{index}", stable)
    slices = draw(st.permutations(slices))
    classes = _classes(draw)
    names = [c["metadata"]["name"] for c in classes] + (["missing"] if draw(st.integers(0, 19)) == 0 else [])
    claims = [_claim(draw, f"c{i}", chosen, names) for i in range(draw(st.integers(1, 2)))]
    labels = {"zone": draw(st.sampled_from("ab"))} if draw(st.integers(0, 3)) else {}
    return {
        "gates": chosen,
        "node": {"metadata": {"name": NODE, "labels": labels}},
        "classes": classes,
        "slices": slices,
        "allocatedClaims": _allocated(draw, slices),
        "claims": claims,
    }
