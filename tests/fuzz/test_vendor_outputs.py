"""Fuzz the vendor tools' outputs (npu-smi, cnmon, hy-smi, amd-smi): mutated fixture text becomes
devices or a ``BackendError`` whose message names the tool and the cause. The tool is the system
edge, so ``run_tool`` of each backend module is replaced by one that answers with the fuzzed text."""

# ruff: noqa: PT017 - a fuzzed input may legitimately succeed or fail, so the error is checked in place

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from dra_driver.devices import AcceleratorDevice, BackendError, amd, ascend, cambricon, hygon
from tests.fuzz.profile import FUZZ

FIXTURES = Path(__file__).resolve().parents[1] / "devices" / "fixtures"
TOOL = Path("/fuzz/vendor-tool")


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """The fixture with a few lines deleted, duplicated, cut, replaced by noise or token-swapped."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "cut", "noise", "swap"]))
        if action == "delete":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "cut":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        elif action == "noise":
            lines[at] = draw(st.text(max_size=30))
        else:
            token = draw(
                st.sampled_from(["0", "-1", "N/A", "", "99999999999999999999", "x", ":", "|", '"', "{"])
            )
            words = lines[at].split(" ")
            words[draw(st.integers(0, len(words) - 1))] = token
            lines[at] = " ".join(words)
    return "\n".join(lines) + "\n"


def _discover(
    module: object, backend: Callable[[Path], object], answer: Callable[[Sequence[str]], str]
) -> object:
    def fake_run_tool(tool: Path, args: Sequence[str], *, vendor: str, timeout: float = 0) -> str:
        return answer(list(args))

    with mock.patch.object(module, "run_tool", fake_run_tool):
        return backend(TOOL).discover()  # type: ignore[attr-defined]


def _check(discover: Callable[[], object]) -> None:
    try:
        devices = discover()
    except BackendError as exc:
        assert str(exc).strip(), "a BackendError without a message"
        assert str(TOOL) in str(exc), f"the error does not name the tool: {exc}"
        return
    assert isinstance(devices, list)
    assert all(isinstance(d, AcceleratorDevice) for d in devices)


def _read(*parts: str) -> str:
    return FIXTURES.joinpath(*parts).read_text()


@FUZZ
@given(data=st.data())
def test_npu_smi_output(data: st.DataObject) -> None:
    summary = data.draw(mutated(_read("ascend", "npu-smi-info.txt")))
    boards = [data.draw(mutated(_read("ascend", f"board-{i}.txt"))) for i in (0, 1)]

    def answer(args: Sequence[str]) -> str:
        return summary if args == ["info"] else boards[int(args[-1]) % 2]

    _check(lambda: _discover(ascend, ascend.AscendBackend, answer))


@FUZZ
@given(data=st.data())
def test_cnmon_output(data: st.DataObject) -> None:
    text = data.draw(mutated(_read("cambricon", "cnmon-info.txt")))
    _check(lambda: _discover(cambricon, cambricon.CambriconBackend, lambda args: text))


@FUZZ
@given(data=st.data())
def test_hy_smi_output(data: st.DataObject) -> None:
    text = data.draw(mutated(_read("hygon", "hy-smi.json")))
    _check(lambda: _discover(hygon, hygon.HygonBackend, lambda args: text))


@FUZZ
@given(data=st.data())
def test_amd_smi_output(data: st.DataObject) -> None:
    listed = data.draw(mutated(_read("amd", "amd-smi-list.json")))
    static = data.draw(mutated(_read("amd", "amd-smi-static.json")))
    _check(lambda: _discover(amd, amd.AmdBackend, lambda args: listed if args[0] == "list" else static))
