"""``hdra discover`` and ``hdra demo`` as a user runs them (in-process, real parser and output)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dra_driver.cli import demo
from dra_driver.cli.common import format_table
from dra_driver.cli.demo import scratch_root
from dra_driver.cli.main import main

MODES_BY_VERSION = {
    # Modes whose fields exist in that release's ResourceSlice schema.
    "1.34": ["exclusive", "replicas", "capacity", "partitions"],
    "1.35": ["exclusive", "replicas", "capacity", "partitions"],
    "1.36": ["exclusive", "replicas", "capacity", "partitions", "auto"],
}


@pytest.mark.parametrize(
    ("version", "mode"), [(v, m) for v, modes in MODES_BY_VERSION.items() for m in modes]
)
@pytest.mark.parametrize("profile", ["a100x4", "mixed"])
def test_discover_prints_slices_that_pass_strict_validation(
    version: str, mode: str, profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "discover",
            "--backend",
            "mock",
            "--profile",
            profile,
            "--node-name",
            "node-x",
            "--mode",
            mode,
            "--kube-version",
            version,
        ]
    )
    assert code == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")  # what kubectl apply -f - accepts
    objects = listed["items"]
    assert objects and all(o["kind"] == "ResourceSlice" for o in objects)
    for obj in objects:
        kubernetes_validate.validate(obj, f"{version}.0", strict=True)
        assert obj["spec"]["nodeName"] == "node-x"
        assert obj["spec"]["pool"] == {"name": "node-x", "generation": 1, "resourceSliceCount": len(objects)}


def test_discover_yaml_output_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["discover", "--profile", "h200x8", "--node-name", "n", "--mode", "capacity", "-o", "yaml"]) == 0
    )
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    devices = [d for doc in documents for d in doc["spec"].get("devices", [])]
    assert [d["name"] for d in devices] == [f"gpu-{i}" for i in range(8)]
    assert all(d["allowMultipleAllocations"] for d in devices)


def test_discover_auto_on_134_uses_what_134_enables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--profile", "a100x4", "--node-name", "n", "--kube-version", "1.34"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")  # what kubectl apply -f - accepts
    objects = listed["items"]
    names = [d["name"] for o in objects for d in o["spec"].get("devices", [])]
    assert names[:2] == ["gpu-0-r0", "gpu-0-r1"]  # replicas: the consumable-capacity gates are alpha in 1.34


def test_discover_nvidia_without_driver_exits_non_zero_with_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pynvml

    def missing_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "_LoadNvmlLibrary", missing_library)
    monkeypatch.setattr(pynvml, "nvmlLib", None)
    assert main(["discover", "--backend", "nvidia", "--node-name", "n"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hdra: no NVIDIA driver found on this node")
    assert "Not Found" in err or "not found" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["discover", "--profile", "nope"], "nope"),
        (["discover", "--kube-version", "1.20"], "--kube-version"),
        (["discover", "--partitions", "2,x"], "--partitions"),
        (["discover", "--shares", "0", "--mode", "capacity"], "shares"),
    ],
)
def test_bad_flags_name_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def run_demo_json(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[dict[str, Any], str]:
    """The demo's JSON document and what it printed on stderr (progress lines, warnings)."""
    assert main(["demo", "--json", *extra]) == 0
    captured = capsys.readouterr()
    loaded: dict[str, Any] = json.loads(captured.out)
    return loaded, captured.err


def test_the_demo_writes_to_tmpdir_else_to_memory_else_to_the_system_temp_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setattr(demo, "MEMORY_TEMP_DIR", memory)
    monkeypatch.delenv("TMPDIR", raising=False)
    assert scratch_root() == memory
    monkeypatch.setattr(demo, "MEMORY_TEMP_DIR", tmp_path / "absent")
    assert scratch_root() == Path(tempfile.gettempdir())
    monkeypatch.setattr(demo, "MEMORY_TEMP_DIR", memory)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert scratch_root() == Path(tempfile.gettempdir())  # an explicit TMPDIR wins


def test_demo_places_every_workload_and_explains_the_pending_one(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(scratch_root().glob("hdra-demo-*"))
    result, _ = run_demo_json(capsys)
    assert set(scratch_root().glob("hdra-demo-*")) == before  # temp dirs cleaned up
    pods = {pod["name"]: pod for pod in result["pods"]}
    assert pods["h100-wanted"]["status"] == "Pending"
    assert "H100" in pods["h100-wanted"]["reason"]
    assert all(pod["status"] == "Running" for name, pod in pods.items() if name != "h100-wanted")
    (train,) = pods["train-llm"]["claims"]
    assert pods["train-llm"]["node"] == "node-h200" and len(train["devices"]) == 4
    # node-mixed's four H200s score the same on the empty cluster: the scheduler may pick it (DESIGN §8).
    assert pods["train-llm"]["ties"] == ["node-mixed"] and pods["chat-inference"]["ties"] == []
    assert len({d["device"] for d in train["devices"]}) == 4
    assert not any(key.startswith("CUDA_DEVICE_MEMORY_LIMIT") for key in train["env"])  # whole cards
    trio = [pods[name]["claims"][0] for name in ("embedding", "rerank", "ocr")]
    assert len({(c["devices"][0]["pool"], c["devices"][0]["device"]) for c in trio}) == 1  # one card
    assert [c["env"]["CUDA_DEVICE_MEMORY_LIMIT_0"] for c in trio] == ["6144m", "8192m", "4096m"]
    assert [c["env"]["CUDA_DEVICE_SM_LIMIT_0"] for c in trio] == ["20", "25", "15"]
    assert "V100" in next(c for c in result["cards"] if c["claims"] == ["default/v100-gpu"])["productName"]
    assert len(result["cards"]) == 4 + 8 + 8 + 8 + 4  # three NVIDIA-like nodes, an Ascend and an MLU node
    mlu = pods["mlu-inference"]["claims"][0]
    assert (mlu["driver"], mlu["env"]["CAMBRICON_SPLIT_MEMS"]) == ("cambricon.hdra.io", "9")
    npu = pods["npu-inference"]["claims"][0]
    assert (npu["driver"], npu["env"]["NPU_MEM_QUOTA"]) == ("ascend.hdra.io", "2000")
    used = {(c["node"], c["device"]): c for c in result["cards"]}
    shared = used[(trio[0]["devices"][0]["pool"], trio[0]["devices"][0]["device"])]
    assert shared["memoryUsedMiB"] == 6144 + 8192 + 4096 and shared["coresUsedPercent"] == 60


def test_demo_text_shows_pod_tables_and_card_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "pod chat-inference" in out and "CUDA_DEVICE_MEMORY_LIMIT_0=20480m" in out
    assert "Pending:" in out and "H100" in out
    assert "  node node-h200 (tie: node-mixed — the scheduler picks one at random)" in out
    card_rows = [line for line in out.splitlines() if re.match(r"\s+node-\w+\s+gpu-\d+\s", line)]
    assert len(card_rows) == 20
    assert "12 pods running, 1 pending" in out
    assert "NPU_MEM_QUOTA=2000" in out and "CAMBRICON_SPLIT_MEMS=9" in out


def test_share_ids_that_look_like_numbers_stay_left_aligned_numbers_right() -> None:
    rows = [["a", 512, "86137304"], ["b", 40960, "12e45678"]]
    assert format_table(["CLAIM", "MiB", "SHARE"], rows, text={"SHARE"}).splitlines() == [
        "CLAIM    MiB  SHARE",
        "-----  -----  --------",
        "a        512  86137304",
        "b      40960  12e45678",
    ]
    assert format_table(["CLAIM", "MiB", "SHARE"], rows).splitlines()[0] == "CLAIM    MiB     SHARE"


def test_demo_with_consumable_capacity_off_falls_back_and_still_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, err = run_demo_json(capsys, "--feature-gates", "DRAConsumableCapacity=false")
    assert err.count("partitions mode") >= 5  # every node says which mode it fell back to
    assert [pod["name"] for pod in result["pods"] if pod["status"] != "Running"] == ["h100-wanted"]
    devices = [d["device"] for pod in result["pods"] for c in pod["claims"] for d in c["devices"]]
    assert any("-p" in name for name in devices)  # partitions are handed out, not only whole cards
    assert all(not d.get("shareID") for pod in result["pods"] for c in pod["claims"] for d in c["devices"])


def test_demo_on_the_local_nvidia_card(capsys: pytest.CaptureFixture[str]) -> None:
    """--backend nvidia: one node from NVML (faked at the ctypes boundary), HAMi-core with the library."""
    from tests.support.fake_nvml import FakeNvmlLib, installed

    fixture = json.loads(
        (Path(__file__).parents[1] / "devices" / "fixtures" / "nvml_h200x1.json").read_text()
    )
    with installed(FakeNvmlLib.from_fixture(fixture)):
        result, err = run_demo_json(capsys, "--backend", "nvidia")
    assert "1 card(s) (local)" in err
    pods = {pod["name"]: pod for pod in result["pods"]}
    assert pods["train-llm"]["status"] == "Pending"  # four H200s wanted, one present
    chat = pods["chat-inference"]
    assert chat["status"] == "Running"
    assert chat["claims"][0]["driver"] == "nvidia.hdra.io"
    assert chat["claims"][0]["env"]["CUDA_DEVICE_MEMORY_LIMIT_0"] == "20480m"
    assert [card["productName"] for card in result["cards"]] == ["NVIDIA H200"]


def test_demo_without_an_nvidia_driver_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.fake_nvml import library_missing

    with library_missing():
        assert main(["demo", "--backend", "nvidia"]) == 1
    assert "no NVIDIA driver found on this node" in capsys.readouterr().err


def _outcomes(result: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {
        pod["name"]: (pod["status"], *(d["device"] for c in pod["claims"] for d in c["devices"]))
        for pod in result["pods"]
    }


def test_whole_card_pods_never_run_on_replicas_and_both_replicas_paths_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 18 item 7: on 1.34 (auto falls back to replicas, the server drops capacity requests and
    distinctAttribute) the whole-card pods ran on replicas of one card; with --mode replicas on 1.36
    they were pending. Both must now give the same placements, and no whole card is a replica."""
    on_134, err = run_demo_json(capsys, "--kube-version", "1.34")
    assert "replicas mode" in err
    on_136, _ = run_demo_json(capsys, "--mode", "replicas")
    assert _outcomes(on_134) == _outcomes(on_136)
    for result in (on_134, on_136):
        pods = {pod["name"]: pod for pod in result["pods"]}
        for whole in ("train-llm", "lora-finetune"):
            assert pods[whole]["status"] == "Pending", pods[whole]
            assert '!("parentUUID" in device.attributes["mock.hdra.io"])' in pods[whole]["reason"]
        # a share asking for more than a replica holds is not given a smaller one either
        assert pods["chat-inference"]["status"] == "Pending"  # 20 GiB and 50 % > a quarter card
        embedding = pods["embedding"]["claims"][0]["devices"][0]
        assert embedding["device"].endswith("-r0") and embedding["memoryMiB"] >= 6144


def test_demo_pending_reason_names_every_node_that_could_run_the_pod(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 18 item 19: the H100 pod's reason showed node-a100 only and hid the rest as "(+4 more)"."""
    result, _ = run_demo_json(capsys)
    (h100,) = [pod for pod in result["pods"] if pod["name"] == "h100-wanted"]
    lines = h100["reason"].splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "node node-h200",
        "node node-a100",
        "node node-mixed",
    ]
    assert all('productName.contains("H100")` is false' in line for line in lines[:3])
    assert lines[3:] == ["nodes without mock.hdra.io devices: node-ascend, node-mlu"]
    assert "more)" not in h100["reason"]
