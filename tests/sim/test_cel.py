"""The CEL environment: the ``device`` variable as upstream builds it, the k8s library functions,
refusals at compile time, runtime errors, and the caches."""

from __future__ import annotations

import pytest

from dra_driver.sim import CelError
from dra_driver.sim.cel_env import CelDevice, CelEngine, check_expression

DEVICE = CelDevice(
    "gpu-0",
    "gpu.example.com",
    {
        "model": {"string": "NVIDIA A100"},
        "index": {"int": 2},
        "healthy": {"bool": True},
        "ver": {"version": "1.10.0"},
        "resource.kubernetes.io/pcieRoot": {"string": "pci0000:00"},
        "tags": {"strings": ["a", "b"]},
    },
    {"memory": {"value": "40Gi"}, "cores": {"value": "100"}},
    True,
)
A = 'device.attributes["gpu.example.com"]'
CAP = 'device.capacity["gpu.example.com"]'


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('device.driver == "gpu.example.com"', True),
        ("device.allowMultipleAllocations", True),
        (f"{A}.index == 2 && {A}.healthy", True),
        (f"{A}.index > 1.5", True),  # k8s enables cross-type numeric comparison
        ('device.attributes["resource.kubernetes.io"].pcieRoot == "pci0000:00"', True),
        ('"model" in device.attributes["other.example.com"]', False),  # unknown domain: empty map
        (f'{A}.ver.isGreaterThan(semver("1.9.0"))', True),
        (f'{A}.ver == semver("1.10.0")', True),
        (f"{A}.ver.major() == 1 && {A}.ver.minor() == 10 && {A}.ver.patch() == 0", True),
        ('semver("v1.2", true) == semver("1.2.0")', True),
        ('isSemver("1.2") || !isSemver("1.2.0")', False),
        (f'{CAP}.memory == quantity("40960Mi")', True),
        (f'{CAP}.memory.compareTo(quantity("40Gi")) == 0', True),
        (f'{CAP}.memory.isLessThan(quantity("41Gi"))', True),
        (f'{CAP}.memory.sub(quantity("39Gi")).asInteger() == 1073741824', True),
        (f"{CAP}.cores.add(5).asApproximateFloat() == 105.0", True),
        ('quantity("-1").sign() == -1 && quantity("1.5").isInteger() == false', True),
        ('isQuantity("10Mi") && !isQuantity("ten")', True),
        (f'{A}.model.lowerAscii().split(" ").join("-") == "nvidia-a100"', True),
        (f'{A}.model.indexOf("A1") == 7 && {A}.model.substring(0, 6) == "NVIDIA"', True),
        (f'{A}.model.charAt(0) == "N" && " x ".trim() == "x" && {A}.model.lastIndexOf("A") == 7', True),
        (f'{A}.tags.includes("b") && {A}.model.includes("NVIDIA A100")', True),
        (f'{A}.model.matches("^NVIDIA A[0-9]+$") && {A}.model.startsWith("NV")', True),
        ("[1, 2, 3].exists(x, x == 2) && [1, 2].all(y, y > 0)", True),
    ],
)
def test_expressions(expression: str, expected: bool) -> None:
    engine = CelEngine(list_attributes=True)
    match = engine.evaluate(engine.compile(expression), DEVICE)
    assert match.error is None
    assert match.matched is expected


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        (f"{A}.missing == 1", "no such key: 'missing'"),
        ('device.attributes["other.example.com"].model == "x"', "no such key: 'model'"),
        (f"{CAP}.memory > 5", "No such overload"),
        ('quantity("ten") == quantity("1")', "'ten' is not a valid quantity"),
        (f'{A}.ver.compareTo(quantity("1")) == 0', "expected a semver, got quantity"),
        (f"{A}.index", "result is int 2, not a bool"),
        ("1 / 0 == 1", "division by zero"),
    ],
)
def test_runtime_errors_are_never_true(expression: str, error: str) -> None:
    engine = CelEngine(list_attributes=True)
    match = engine.evaluate(engine.compile(expression), DEVICE)
    assert match.matched is False
    assert error in (match.error or "")


def test_short_circuit_absorbs_errors() -> None:
    engine = CelEngine(list_attributes=True)
    assert engine.evaluate(engine.compile(f"false && {A}.missing == 1"), DEVICE).matched is False
    assert engine.evaluate(engine.compile(f'"missing" in {A} && {A}.missing == 1'), DEVICE).error is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (f'cel.bind(m, {A}.model, m == "x")', "cel.bind"),
        ("math.abs(-1) == 1", "unknown identifier 'math'"),
        ("sets.contains([1], [1])", "unknown identifier 'sets'"),
        (f'{A}.model.find("A") == "A"', "function 'find' is not supported"),
        ("other == 1", "unknown identifier 'other'"),
        ("device.driver ==", "does not compile"),
        ("", "empty"),
        ("x" * 10241, "longer than 10240"),
    ],
)
def test_refused_at_compile_time(expression: str, message: str) -> None:
    with pytest.raises(CelError, match=message):
        check_expression(expression)
    engine = CelEngine(list_attributes=True)
    with pytest.raises(CelError, match=message):
        engine.compile(expression)
    with pytest.raises(CelError, match=message):  # the refusal is cached, and raised again
        engine.compile(expression)


def test_compiled_programs_and_contexts_are_cached() -> None:
    engine = CelEngine(list_attributes=True)
    first = engine.compile('device.driver == "gpu.example.com"')
    assert engine.compile('device.driver == "gpu.example.com"') is first
    device = CelDevice("d", "gpu.example.com", {"a": {"int": 1}}, {}, False)
    engine.evaluate(first, device)
    context = device._context
    engine.evaluate(first, device)
    assert device._context is context
    # A new domain literal rebuilds the context once, so that domain is an empty map.
    guarded = engine.compile('"a" in device.attributes["new.example.com"]')
    assert engine.evaluate(guarded, device).matched is False
    assert device._context is not context


def test_malformed_device_values_are_errors() -> None:
    engine = CelEngine(list_attributes=True)
    device = CelDevice("bad", "gpu.example.com", {"ver": {"version": "01.2"}}, {}, False)
    match = engine.evaluate(engine.compile("true"), device)
    assert match.matched is False
    assert "attribute ver: parse semantic version" in (match.error or "")


def test_list_attributes_need_the_gate() -> None:
    """DRAListTypeAttributes off (1.36 default): a list attribute makes every selector on the device
    fail with upstream's "unsupported attribute value" (k8s.io/dynamic-resource-allocation
    cel/compile.go, getAttributeValue). Selectors are compiled as stored expressions there, so
    ``includes`` and ``device.allowMultipleAllocations`` still compile."""
    engine = CelEngine(list_attributes=False, multi_allocations=False)
    match = engine.evaluate(engine.compile('device.driver == "gpu.example.com"'), DEVICE)
    assert match == type(match)(False, "attribute tags: unsupported attribute value")
    engine.compile(f'{A}.model.includes("x")')
    engine.compile("device.allowMultipleAllocations")
    stable = CelEngine(list_attributes=True, multi_allocations=False)  # stable's cel.Device lacks it
    assert stable.evaluate(stable.compile("device.allowMultipleAllocations"), DEVICE).matched is False
