"""Table-driven allocation cases; each expected result is worked out by hand from the upstream rules
(d-r-a structured allocator, consumable capacity, pools) that the comment on each case cites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from dra_driver.sim import ClusterState, Pending, Placement
from tests.sim.builders import (
    CLASS,
    DRIVER,
    GPU_CLASS,
    allocated,
    attrs,
    claim,
    device,
    device_class,
    exact,
    first_available,
    rslice,
)

A = f'device.attributes["{DRIVER}"]'
C = f'device.capacity["{DRIVER}"]'

# Inventory "four": node n1, one slice, four exclusive GPUs.
FOUR = [
    rslice(
        "n1-s",
        "n1",
        [
            device(
                "g0",
                attributes=attrs(model="A100", index=0, uuid="u0", numa=0, ver=("version", "1.2.0")),
                capacity={"memory": "40Gi"},
            ),
            device(
                "g1",
                attributes=attrs(model="H100", index=1, uuid="u1", numa=0, ver=("version", "2.0.0")),
                capacity={"memory": "80Gi"},
            ),
            device(
                "g2",
                attributes=attrs(model="A100", index=2, uuid="u2", numa=1, ver=("version", "1.10.0")),
                capacity={"memory": "40Gi"},
            ),
            device(
                "g3",
                attributes=attrs(model="H100", index=3, uuid="u3", ver=("version", "2.1.0-rc.1")),
                capacity={"memory": "80Gi"},
            ),
        ],
    )
]
# g3 deliberately has no numa attribute (constraint cases).

_POLICY = {
    "memory": {
        "value": "40Gi",
        "requestPolicy": {"default": "4Gi", "validRange": {"min": "1Gi", "max": "16Gi", "step": "2Gi"}},
    },
    "cores": {"value": "100", "requestPolicy": {"default": "10", "validValues": ["10", "25", "50", "100"]}},
    "bw": {"value": "10"},
}
# Inventory "shared": node n1, two devices with allowMultipleAllocations and the policies above.
SHARED = [
    rslice(
        "n1-s",
        "n1",
        [device(f"s{i}", attributes=attrs(uuid=f"su{i}"), capacity=_POLICY, multi=True) for i in range(2)],
    )
]


def _consumes(memory: str) -> list[dict[str, Any]]:
    return [{"counterSet": "card0", "counters": {"memory": {"value": memory}}}]


# Inventory "parts": one card published as a counter set (slice n1-0) and three devices in another
# slice (n1-1) of the same pool: the whole card (40Gi) and two halves (20Gi each).
PARTS = [
    rslice("n1-0", "n1", counters=[{"name": "card0", "counters": {"memory": {"value": "40Gi"}}}], count=2),
    rslice(
        "n1-1",
        "n1",
        [
            device("whole", attributes=attrs(uuid="c0"), consumes=_consumes("40Gi")),
            device("half-0", attributes=attrs(uuid="c0"), consumes=_consumes("20Gi")),
            device("half-1", attributes=attrs(uuid="c0"), consumes=_consumes("20Gi")),
        ],
        count=2,
    ),
]

_NO_SCHEDULE = {"key": "maint", "value": "yes", "effect": "NoSchedule"}
# Inventory "tainted": g0 NoSchedule, g1 NoExecute, g2 effect None, g3 untainted.
TAINTED = [
    rslice(
        "n1-s",
        "n1",
        [
            device("g0", taints=[_NO_SCHEDULE]),
            device("g1", taints=[{"key": "health", "value": "bad", "effect": "NoExecute"}]),
            device("g2", taints=[{"key": "note", "effect": "None"}]),
            device("g3"),
        ],
    )
]
ADMIN_NS = {"ops": {"resource.kubernetes.io/admin-access": "true"}, "default": {}}


@dataclass
class Case:
    id: str
    slices: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    expect: list[tuple[str, str]] | None = None
    """(request, pool/device) of every result of every claim, in order; None when pending."""
    pending: str | None = None
    """A substring of the Pending message."""
    existing: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=lambda: [GPU_CLASS])
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    policy: str | None = None
    node: str | None = None


def one(name: str, *requests: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    return [claim(name, *requests, **kw)]


def _card(node: str, name: str) -> dict[str, Any]:
    return device(name, attributes=attrs(uuid=f"{node}-{name}"), capacity={"memory": "40Gi"})


CASES = [
    # -- selectors ---------------------------------------------------------------------------
    # No selector, count defaults to 1: first device in slice order.
    Case("first-fit-default-count", FOUR, one("c", exact("r")), [("r", "n1/g0")]),
    # String equality on an attribute under the driver's domain (published without domain).
    Case("string-selector", FOUR, one("c", exact("r", f'{A}.model == "H100"')), [("r", "n1/g1")]),
    # Class selectors AND request selectors: class picks H100s (g1, g3), request index > 1 → g3.
    Case(
        "class-and-request-selectors",
        FOUR,
        one("c", exact("r", f"{A}.index > 1", cls="h100")),
        [("r", "n1/g3")],
        classes=[device_class("h100", f'device.driver == "{DRIVER}"', f'{A}.model == "H100"')],
    ),
    # Semver, not string, order: 1.10.0 > 1.5.0 (a string compare would say "1.10.0" < "1.5.0").
    Case(
        "semver-compare",
        FOUR,
        one("c", exact("r", f'{A}.model == "A100" && {A}.ver.compareTo(semver("1.5.0")) > 0')),
        [("r", "n1/g2")],
    ),
    # Pre-release sorts before its release: 2.0.0 and 2.1.0-rc.1 are both < 2.1.0.
    Case(
        "semver-prerelease",
        FOUR,
        one("c", exact("r", f'{A}.ver.isLessThan(semver("2.1.0")) && {A}.model == "H100"', count=2)),
        [("r", "n1/g1"), ("r", "n1/g3")],
    ),
    # Quantity comparison: only 80Gi cards have >= 50Gi.
    Case(
        "quantity-compare",
        FOUR,
        one("c", exact("r", f'{C}.memory.compareTo(quantity("50Gi")) >= 0')),
        [("r", "n1/g1")],
    ),
    # Quantities compare by value across units: 40Gi == 40960Mi is not greater, 80Gi is.
    Case(
        "quantity-units",
        FOUR,
        one("c", exact("r", f'{C}.memory.isGreaterThan(quantity("40960Mi"))')),
        [("r", "n1/g1")],
    ),
    # k8s strings ext functions registered as Python functions.
    Case(
        "strings-upperAscii", FOUR, one("c", exact("r", f'{A}.uuid.upperAscii() == "U2"')), [("r", "n1/g2")]
    ),
    Case(
        "strings-replace",
        FOUR,
        one("c", exact("r", f'{A}.model.replace("H", "X") == "X100"')),
        [("r", "n1/g1")],
    ),
    # Guarded lookup of an attribute g3 lacks: g0 numa 0, g1 numa 0, g2 numa 1 → g2.
    Case(
        "guarded-missing-key", FOUR, one("c", exact("r", f'"numa" in {A} && {A}.numa == 1')), [("r", "n1/g2")]
    ),
    # Unknown domain is an empty map, so ``.foo`` is a runtime "no such key" error on every
    # device; errors are never true → pending with the error as reason.
    Case(
        "runtime-error-unknown-domain",
        FOUR,
        one("c", exact("r", 'device.attributes["other.example.com"].foo == 1')),
        pending="no such key: 'foo'",
    ),
    # A non-bool result is an error, not a match.
    Case("non-bool-result", FOUR, one("c", exact("r", f"{A}.index")), pending="not a bool"),
    # cel.bind is refused at compile time, naming the macro.
    Case(
        "refused-cel-bind",
        FOUR,
        one("c", exact("r", f'cel.bind(x, {A}, x.model == "A100")')),
        pending="cel.bind",
    ),
    # Namespaced and regex functions the simulator does not implement are refused by name.
    Case("refused-math", FOUR, one("c", exact("r", f"math.abs({A}.index) == 1")), pending="'math'"),
    Case(
        "refused-find", FOUR, one("c", exact("r", f'{A}.model.find("A") == "A"')), pending="function 'find'"
    ),
    # -- allocation mode and count ------------------------------------------------------------
    Case(
        "exact-count-3", FOUR, one("c", exact("r", count=3)), [("r", "n1/g0"), ("r", "n1/g1"), ("r", "n1/g2")]
    ),
    Case(
        "exact-count-too-many",
        FOUR,
        one("c", exact("r", count=5)),
        pending="4 of 4 device(s) usable, 5 needed",
    ),
    # All: every matching device of the node.
    Case(
        "all-mode",
        FOUR,
        one("c", exact("r", f'{A}.model == "A100"', mode="All")),
        [("r", "n1/g0"), ("r", "n1/g2")],
    ),
    # All fails when one matching device is in use (the scheduler does not allocate a subset).
    Case(
        "all-mode-one-in-use",
        FOUR,
        one("c", exact("r", f'{A}.model == "A100"', mode="All")),
        pending="already allocated to claim default/old",
        existing=[allocated("old", "n1", "n1/g2")],
    ),
    # An exclusively allocated device is skipped: g0 held → g1.
    Case(
        "skip-allocated",
        FOUR,
        one("c", exact("r")),
        [("r", "n1/g1")],
        existing=[allocated("old", "n1", "n1/g0")],
    ),
    # capacity.requests on a device without a policy = "request <= value": 50Gi only on 80Gi cards.
    Case(
        "exclusive-capacity-filter", FOUR, one("c", exact("r", capacity={"memory": "50Gi"})), [("r", "n1/g1")]
    ),
    # -- consumable capacity ------------------------------------------------------------------
    # Checked via consumedCapacity in test_capacity_results below; here: placement effects.
    # Unrequested "bw" has no policy → the whole 10 is consumed, so a second default claim
    # cannot share s0 and goes to s1.
    Case(
        "no-policy-consumes-whole",
        SHARED,
        one("c", exact("r")),
        [("r", "n1/s1")],
        existing=[
            allocated("old", "n1", "n1/s0", shares={"n1/s0": {"bw": "10", "cores": "10", "memory": "4Gi"}})
        ],
    ),
    # With bw requested (5 of 10), a second claim shares s0 (memory 15+15 <= 40, bw 5+5 <= 10;
    # 15Gi = min 1Gi + 7 steps of 2Gi, so it needs no rounding).
    Case(
        "share-same-device",
        SHARED,
        one("c", exact("r", capacity={"bw": "5", "memory": "15Gi"})),
        [("r", "n1/s0")],
        existing=[
            allocated("old", "n1", "n1/s0", shares={"n1/s0": {"bw": "5", "cores": "10", "memory": "15Gi"}})
        ],
    ),
    # Memory exhausted: 2 x 15Gi held on s0 (30 of 40Gi), 15Gi more does not fit → s1.
    Case(
        "memory-exhausted",
        SHARED,
        one("c", exact("r", capacity={"bw": "1", "memory": "15Gi"})),
        [("r", "n1/s1")],
        existing=[
            allocated("o1", "n1", "n1/s0", shares={"n1/s0": {"bw": "1", "cores": "10", "memory": "15Gi"}}),
            allocated("o2", "n1", "n1/s0", shares={"n1/s0": {"bw": "1", "cores": "10", "memory": "15Gi"}}),
        ],
    ),
    # 20Gi rounds up to 21Gi (1Gi + 10 x 2Gi), above the validRange max 16Gi → not eligible.
    Case(
        "above-max",
        SHARED,
        one("c", exact("r", capacity={"memory": "20Gi"})),
        pending="above the policy maximum 16Gi",
    ),
    # Above every validValue (100) → violates the policy.
    Case(
        "above-valid-values", SHARED, one("c", exact("r", capacity={"cores": "150"})), pending="validValues"
    ),
    # A capacity the device does not publish → not eligible.
    Case("unknown-capacity", SHARED, one("c", exact("r", capacity={"foo": "1"})), pending="no such capacity"),
    # Within one request a device is used once, even if shareable: count 2 → s0, s1.
    Case(
        "count-2-shareable",
        SHARED,
        one("c", exact("r", count=2, capacity={"bw": "1"})),
        [("r", "n1/s0"), ("r", "n1/s1")],
    ),
    # -- counters -----------------------------------------------------------------------------
    # The whole card consumes the full counter set (published in another slice of the pool).
    Case(
        "counters-whole",
        PARTS,
        one("c", exact("r", 'device.attributes["gpu.example.com"].uuid == "c0"')),
        [("r", "n1/whole")],
    ),
    # half-0 allocated: 20Gi left, so the whole card (40Gi) is ruled out; half-1 fits.
    Case(
        "counters-partial",
        PARTS,
        one("c", exact("r")),
        [("r", "n1/half-1")],
        existing=[allocated("o", "n1", "n1/half-0")],
    ),
    # count 2: first fit takes "whole" (40Gi), then no half fits → backtrack: half-0 + half-1.
    Case(
        "counters-backtrack", PARTS, one("c", exact("r", count=2)), [("r", "n1/half-0"), ("r", "n1/half-1")]
    ),
    # count 3 can never fit in 40Gi of counters.
    Case("counters-exhausted", PARTS, one("c", exact("r", count=3)), pending="not all together"),
    # -- constraints --------------------------------------------------------------------------
    # matchAttribute numa over both devices of one request: g0, g1 are both numa 0.
    Case(
        "match-attribute",
        FOUR,
        one("c", exact("r", count=2), constraints=[{"matchAttribute": f"{DRIVER}/numa"}]),
        [("r", "n1/g0"), ("r", "n1/g1")],
    ),
    # r1 (H100) can be g1 (numa 0) or g3 (no numa); r2 (index > 1) g2 (numa 1) or g3. r1 = g1 →
    # r2 = g2 differs, g3 lacks numa; r1 = g3 lacks numa itself → no solution after backtracking.
    Case(
        "match-attribute-impossible",
        FOUR,
        one(
            "c",
            exact("r1", f'{A}.model == "H100"'),
            exact("r2", f"{A}.index > 1"),
            constraints=[{"matchAttribute": f"{DRIVER}/numa"}],
        ),
        pending="constraints: matchAttribute gpu.example.com/numa over all requests of claim default/c",
    ),
    # Backtracking that succeeds: r1 (any device) first takes g0 (numa 0), r2 (numa 0 only) then
    # violates distinctAttribute; r1 = g1 (numa 0) fails the same way; r1 = g2 (numa 1) → r2 = g0.
    Case(
        "distinct-attribute-backtrack",
        FOUR,
        one(
            "c",
            exact("r1"),
            exact("r2", f'"numa" in {A} && {A}.numa == 0'),
            constraints=[{"distinctAttribute": f"{DRIVER}/numa"}],
        ),
        [("r1", "n1/g2"), ("r2", "n1/g0")],
    ),
    # A constraint limited to listed requests leaves the others free: r3 is not constrained.
    Case(
        "match-attribute-listed-requests",
        FOUR,
        one(
            "c",
            exact("r1"),
            exact("r2"),
            exact("r3", f"{A}.index == 2"),
            constraints=[{"matchAttribute": f"{DRIVER}/numa", "requests": ["r1", "r2"]}],
        ),
        [("r1", "n1/g0"), ("r2", "n1/g1"), ("r3", "n1/g2")],
    ),
    # Devices lacking the attribute fail the constraint: only g3 is an allowed device → pending.
    Case(
        "match-attribute-missing",
        FOUR,
        one("c", exact("r", f"{A}.index == 3"), constraints=[{"matchAttribute": f"{DRIVER}/numa"}]),
        pending="has no such attribute",
    ),
    # Shareable devices: without a constraint both requests share s0 ...
    Case(
        "distinct-none",
        SHARED,
        one("c", exact("r1", capacity={"bw": "1"}), exact("r2", capacity={"bw": "1"})),
        [("r1", "n1/s0"), ("r2", "n1/s0")],
    ),
    # ... with distinctAttribute uuid the second request must use another card.
    Case(
        "distinct-attribute",
        SHARED,
        one(
            "c",
            exact("r1", capacity={"bw": "1"}),
            exact("r2", capacity={"bw": "1"}),
            constraints=[{"distinctAttribute": f"{DRIVER}/uuid"}],
        ),
        [("r1", "n1/s0"), ("r2", "n1/s1")],
    ),
    # -- firstAvailable -----------------------------------------------------------------------
    # First sub-request matches nothing (no B200) → second; result names <req>/<sub>.
    Case(
        "first-available",
        FOUR,
        one(
            "c",
            first_available("gpu", ("big", [f'{A}.model == "B200"']), ("small", [f'{A}.model == "A100"'])),
        ),
        [("gpu/small", "n1/g0")],
    ),
    # r1 tries h100 (g1, then g3) but r2 then lacks 2 H100s → r1 falls back to a100 (g0).
    Case(
        "first-available-backtrack",
        FOUR,
        one(
            "c",
            first_available("r1", ("h100", [f'{A}.model == "H100"']), ("a100", [f'{A}.model == "A100"'])),
            exact("r2", f'{A}.model == "H100"', count=2),
        ),
        [("r1/a100", "n1/g0"), ("r2", "n1/g1"), ("r2", "n1/g3")],
    ),
    # -- adminAccess --------------------------------------------------------------------------
    # With the namespace label, admin access gets a device another claim holds.
    Case(
        "admin-access-in-use",
        FOUR,
        one("c", exact("r", f'{A}.uuid == "u0"', admin=True), namespace="ops"),
        [("r", "n1/g0")],
        existing=[allocated("old", "n1", "n1/g0")],
        namespaces=ADMIN_NS,
    ),
    # Without the label the request is refused.
    Case(
        "admin-access-no-label",
        FOUR,
        one("c", exact("r", admin=True)),
        pending="resource.kubernetes.io/admin-access",
        namespaces=ADMIN_NS,
    ),
    # -- taints -------------------------------------------------------------------------------
    # NoSchedule (g0) and NoExecute (g1) block; effect None (g2) does not.
    Case("taints-block", TAINTED, one("c", exact("r")), [("r", "n1/g2")]),
    # Exists on the key tolerates g0's NoSchedule taint.
    Case(
        "toleration-exists",
        TAINTED,
        one("c", exact("r", tolerations=[{"key": "maint", "operator": "Exists"}])),
        [("r", "n1/g0")],
    ),
    # Equal with the wrong value does not tolerate → g2.
    Case(
        "toleration-wrong-value",
        TAINTED,
        one("c", exact("r", tolerations=[{"key": "maint", "operator": "Equal", "value": "no"}])),
        [("r", "n1/g2")],
    ),
    # Empty key + Exists + effect NoSchedule tolerates every NoSchedule taint but not NoExecute.
    Case(
        "toleration-effect",
        TAINTED,
        one("c", exact("r", count=2, tolerations=[{"operator": "Exists", "effect": "NoSchedule"}])),
        [("r", "n1/g0"), ("r", "n1/g2")],
    ),
    # -- pools --------------------------------------------------------------------------------
    # Only the highest generation counts: "old" (gen 1) is ignored, "new" (gen 2) is used.
    Case(
        "generation",
        [
            rslice("n1-a", "n1", [device("old")], generation=1),
            rslice("n1-b", "n1", [device("new")], generation=2),
        ],
        one("c", exact("r")),
        [("r", "n1/new")],
    ),
    # resourceSliceCount 2 with one slice: incomplete → nothing allocated from it.
    Case(
        "incomplete-pool",
        [rslice("n1-a", "n1", [device("d")], count=2)],
        one("c", exact("r")),
        pending="incomplete",
    ),
    # n1's pool is incomplete, n2's complete → the pod goes to n2.
    Case(
        "incomplete-pool-other-node",
        [rslice("n1-a", "n1", [device("d")], count=2), rslice("n2-a", "n2", [device("d")])],
        one("c", exact("r")),
        [("r", "n2/d")],
        node="n2",
    ),
    # -- first fit order ----------------------------------------------------------------------
    # Slices are ordered by name within a pool: n1-a (y0) before n1-b (x0).
    Case(
        "slice-name-order",
        [rslice("n1-b", "n1", [device("x0")], count=2), rslice("n1-a", "n1", [device("y0")], count=2)],
        one("c", exact("r")),
        [("r", "n1/y0")],
    ),
    # Pools are ordered by (driver, pool): a.example.com before b.example.com.
    Case(
        "pool-order",
        [
            rslice("n1-b", "n1", [device("b0")], driver="b.example.com"),
            rslice("n1-a", "n1", [device("a0")], driver="a.example.com"),
        ],
        one("c", exact("r", cls="any")),
        [("r", "n1/a0")],
        classes=[device_class("any", 'device.driver.endsWith(".example.com")')],
    ),
    # -- policies -----------------------------------------------------------------------------
    # s0 holds one share (4Gi of 40Gi): binpack prefers the used card, spread the unused one.
    Case(
        "card-binpack",
        SHARED,
        one("c", exact("r", capacity={"bw": "1"})),
        [("r", "n1/s0")],
        policy="binpack",
        existing=[
            allocated("o", "n1", "n1/s0", shares={"n1/s0": {"bw": "1", "cores": "10", "memory": "4Gi"}})
        ],
    ),
    Case(
        "card-spread",
        SHARED,
        one("c", exact("r", capacity={"bw": "1"})),
        [("r", "n1/s1")],
        policy="spread",
        existing=[
            allocated("o", "n1", "n1/s0", shares={"n1/s0": {"bw": "1", "cores": "10", "memory": "4Gi"}})
        ],
    ),
    # Node level (cards with uuid and memory, as hdra publishes them: slices.usage counts only
    # those): n2 has one of its two GPUs allocated; binpack → n2, spread → n1, none → n1.
    Case(
        "node-binpack",
        [rslice(f"{n}-s", n, [_card(n, "a"), _card(n, "b")]) for n in ("n1", "n2")],
        one("c", exact("r")),
        [("r", "n2/b")],
        existing=[allocated("o", "n2", "n2/a")],
        policy="binpack",
        node="n2",
    ),
    Case(
        "node-spread",
        [rslice(f"{n}-s", n, [_card(n, "a"), _card(n, "b")]) for n in ("n1", "n2")],
        one("c", exact("r")),
        [("r", "n1/a")],
        existing=[allocated("o", "n2", "n2/a")],
        policy="spread",
        node="n1",
    ),
    # -- pods with several claims -------------------------------------------------------------
    # Each claim alone fits n1 (3 GPUs) but together they need 4 → the pod goes to n2.
    Case(
        "pod-claims-together",
        [
            rslice("n1-s", "n1", [device(f"g{i}") for i in range(3)]),
            rslice("n2-s", "n2", [device(f"g{i}") for i in range(4)]),
        ],
        [claim("a", exact("r", count=2)), claim("b", exact("r", count=2))],
        [("r", "n2/g0"), ("r", "n2/g1"), ("r", "n2/g2"), ("r", "n2/g3")],
        node="n2",
    ),
    # An already allocated claim of the pod pins it to that claim's node (n2), although n1 is free.
    Case(
        "pod-pinned-by-allocated-claim",
        [rslice("n1-s", "n1", [device("g0")]), rslice("n2-s", "n2", [device("g0"), device("g1")])],
        [allocated("a", "n2", "n2/g0"), claim("b", exact("r"))],
        [("r", "n2/g0"), ("r", "n2/g1")],
        node="n2",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_allocation_case(case: Case) -> None:
    state = ClusterState(case.slices, case.classes, namespaces=case.namespaces, claims=case.existing, seed=7)
    outcome = state.place_pod(case.claims, policy=case.policy)
    if case.expect is None:
        assert isinstance(outcome, Pending), f"expected pending, got {outcome}"
        assert case.pending is not None
        assert case.pending in outcome.message, outcome.message
        return
    assert isinstance(outcome, Placement), outcome.message if isinstance(outcome, Pending) else outcome
    got = [
        (result["request"], f"{result['pool']}/{result['device']}")
        for allocation in outcome.allocations
        for result in allocation.allocation["devices"]["results"]
    ]
    assert got == case.expect
    if case.node:
        assert outcome.node == case.node


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40
    assert CLASS == "gpu"
