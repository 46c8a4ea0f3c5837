"""``hdra simulate`` and ``hdra explain`` run in-process through their own parsers, on files in
tmp_path and on a dev cluster."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dra_driver.cli import explain, simulate
from dra_driver.cli.common import CommandError
from dra_driver.devcluster import DevCluster
from dra_driver.kube import KubeClient
from dra_driver.kube.models import Namespace, ObjectMeta, ResourceClaim, ResourceSlice
from tests.sim.builders import allocated, claim, mock_slices
from tests.sim.builders import exact as _exact

MOCK = 'device.attributes["mock.hdra.io"]'


def exact(name: str, *selectors: str, **kw: Any) -> dict[str, Any]:
    return _exact(name, *selectors, cls="mock.hdra.io", **kw)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hdra")
    commands = parser.add_subparsers()
    simulate.add_parser(commands)
    explain.add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def _write(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


@pytest.fixture
def slices_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "slices.yaml", mock_slices("node-a", "a100x4") + mock_slices("node-h", "h200x8"))


def test_simulate_tables(slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(
        tmp_path / "claims.yaml",
        [
            claim("small", exact("gpu", capacity={"memory": "10Gi", "cores": "25"})),
            claim(
                "p-1", exact("gpu", f'{MOCK}.productName == "NVIDIA H200"'), annotations={"hdra.io/pod": "p"}
            ),
            claim("p-2", exact("gpu", count=2), annotations={"hdra.io/pod": "p"}),
            claim("h100", exact("gpu", f'{MOCK}.productName == "H100"')),
        ],
    )
    assert _run(["simulate", "--slices", str(slices_file), "--claims", str(claims), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "assumed one class per hdra driver" in out
    assert "Placed (2 pods)" in out
    assert "Pending (1 pods)" in out
    lines = out.splitlines()
    small = next(line for line in lines if line.startswith("default/small"))
    # Both nodes can take it (first fit: no extender): a tie, the simulator takes node-a.
    assert small.split()[2:] == ["node-a", "(tie)", "mock.hdra.io/node-a/gpu-0", "10240", "25"]
    # The two claims of pod p land on one node together (the H200 node: p-1 needs an H200).
    pod_rows = [line.split() for line in lines if line.startswith("default/p ")]
    assert {row[2] for row in pod_rows} == {"node-h"}
    assert len(pod_rows) == 3
    assert any("H100" in line and line.startswith("default/h100") for line in lines)
    card = next(line for line in lines if line.startswith("node-a") and " gpu-0 " in line)
    assert card.split()[-4:] == ["10240", "40960", "25", "1"]


def test_simulate_json_with_policy_and_classes(
    slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = _write(
        tmp_path / "classes.yaml",
        [
            {
                "kind": "DeviceClass",
                "metadata": {"name": "mock.hdra.io"},
                "spec": {"selectors": [{"cel": {"expression": "true"}}]},
            }
        ],
    )
    claims = tmp_path / "claims.json"
    claims.write_text(
        json.dumps(
            {
                "kind": "List",
                "items": [claim(f"q{i}", exact("gpu", capacity={"memory": "10Gi"})) for i in range(5)],
            }
        )
    )
    argv = ["simulate", "--slices", str(slices_file), "--claims", str(claims), "--classes", str(classes)]
    assert _run([*argv, "--policy", "binpack", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # On the empty cluster both nodes score 0: the first claim ties, the others follow its node.
    assert report["notes"] == [
        "pod default/q0: node-a (tie: node-h — the scheduler picks one at random); "
        "the placements after it assume node-a"
    ]
    assert [bool(p["ties"]) for p in report["placed"]] == [True, False, False, False, False]
    assert report["policy"] == "binpack"
    assert len(report["placed"]) == 5
    devices = {p["claims"][0]["devices"][0]["device"] for p in report["placed"]}
    assert devices == {"mock.hdra.io/node-a/gpu-0", "mock.hdra.io/node-a/gpu-1"}  # 4 + 1 on A100s
    used = [c for c in report["cards"] if c["claims"]]
    assert [(c["card"], c["memoryUsedMiB"]) for c in used] == [("gpu-0", "40960"), ("gpu-1", "10240")]


def test_simulate_names_the_nodes_that_tie_and_their_devices(
    slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """First fit has no extender: every node that can take the pod ties with the simulator's pick."""
    claims = _write(tmp_path / "claims.yaml", [claim("one", exact("gpu", count=2))])
    argv = ["simulate", "--slices", str(slices_file), "--claims", str(claims)]
    assert _run([*argv, "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["placed"]
    assert entry["node"] == "node-a"
    assert entry["ties"] == [
        {
            "node": "node-h",
            "claims": [
                {
                    "claim": "default/one",
                    "devices": [
                        {"request": "gpu", "device": "mock.hdra.io/node-h/gpu-0"},
                        {"request": "gpu", "device": "mock.hdra.io/node-h/gpu-1"},
                    ],
                }
            ],
        }
    ]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "Note: pod default/one: node-a (tie: node-h — the scheduler picks one at random)" in out
    assert "node-a (tie)  mock.hdra.io/node-a/gpu-0" in out
    tie_rows = out.split("Ties (", 1)[1].split("\n\nCards", 1)[0].splitlines()[3:]
    assert [row.split(None, 2) for row in tie_rows] == [
        ["default/one", "node-h", "mock.hdra.io/node-h/gpu-0, mock.hdra.io/node-h/gpu-1"]
    ]


def test_explain_names_the_nodes_that_tie(
    slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = _write(tmp_path / "claim.yaml", [claim("any", exact("gpu"))])
    argv = ["explain", "--claim", str(body), "--slices", str(slices_file), "--policy", "spread"]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "would be allocated on node node-a (tie: node-h — the scheduler picks one at random): " in out
    assert "  or on node node-h: gpu: mock.hdra.io/node-h/gpu-0" in out
    assert _run([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ties"] == [{"node": "node-h", "devices": ["gpu: mock.hdra.io/node-h/gpu-0"]}]


def test_simulate_user_errors(slices_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="nothing to place: --claims gave no pending ResourceClaims"):
        _run(["simulate", "--slices", str(slices_file)])
    with pytest.raises(CommandError, match="cannot read"):
        _run(["simulate", "--slices", str(tmp_path / "missing.yaml"), "--claims", str(slices_file)])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(CommandError, match="not a Kubernetes object"):
        _run(["simulate", "--slices", str(bad), "--claims", str(bad)])


def test_simulate_counts_allocated_claims_and_reports_bad_claims(
    slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = allocated("held", "node-a", "node-a/gpu-0")
    for result in held["status"]["allocation"]["devices"]["results"]:
        result["driver"] = "mock.hdra.io"
    bad = claim("bad", {"name": "r"})
    claims = _write(tmp_path / "claims.yaml", [held, claim("new", exact("gpu", f"{MOCK}.index == 0")), bad])
    assert _run(["simulate", "--slices", str(slices_file), "--claims", str(claims), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # gpu-0 of node-a is held (exclusively) by the allocated claim, so the new one takes node-h's gpu-0.
    assert report["placed"][0]["node"] == "node-h"
    assert "set exactly one of 'exactly' and 'firstAvailable'" in report["pending"][0]["reasons"][0]


def test_explain_claim_file(slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = _write(tmp_path / "claim.yaml", [claim("big", exact("gpu", capacity={"memory": "50Gi"}))])
    assert _run(["explain", "--claim", str(body), "--slices", str(slices_file)]) == 0
    out = capsys.readouterr().out
    assert "Claim default/big: ALLOCATABLE" in out
    assert "would be allocated on node node-h" in out
    assert (
        "capacity 'memory': above the policy maximum 40Gi: requested 50Gi, rounded 50Gi, available 40Gi"
        in out
    )
    assert "assumed one class per hdra driver" in out


def test_explain_notes_a_claim_held_by_several_pods_when_hami_core_may_enforce_it(
    slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # DESIGN §5: HAMi-core enforces a claim's limits for one PID namespace at a time.
    shared = allocated("shared", "node-a", "node-a/gpu-0", shares={"node-a/gpu-0": {"memory": "4Gi"}})
    shared["spec"]["devices"]["requests"] = [exact("r", capacity={"memory": "4Gi"})]  # class mock.hdra.io
    shared["status"]["reservedFor"] = [
        {"resource": "pods", "name": name, "uid": f"uid-{name}"} for name in ("trainer-0", "trainer-1")
    ]
    single = allocated("single", "node-a", "node-a/gpu-1")
    single["spec"]["devices"]["requests"] = [exact("r", capacity={"memory": "4Gi"})]
    single["status"]["reservedFor"] = [{"resource": "pods", "name": "solo", "uid": "uid-solo"}]
    claims = _write(tmp_path / "claims.yaml", [shared, single])
    assert _run(["explain", "default/shared", "--slices", str(slices_file), "--claims", str(claims)]) == 0
    out = capsys.readouterr().out
    assert "note: reserved for 2 pods (trainer-0, trainer-1) while requests r may get HAMi-core limits" in out
    assert "shareProcessNamespace: true" in out
    assert _run(["explain", "default/single", "--slices", str(slices_file), "--claims", str(claims)]) == 0
    assert "reserved for" not in capsys.readouterr().out


def test_explain_by_name_json(slices_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(tmp_path / "claims.yaml", [claim("h100", exact("gpu", f'{MOCK}.productName == "H100"'))])
    assert (
        _run(["explain", "default/h100", "--slices", str(slices_file), "--claims", str(claims), "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "pending"
    assert set(data["pending"]) == {"node-a", "node-h"}
    assert data["requests"][0]["usable"] == 0
    with pytest.raises(CommandError, match="claim default/nope not found"):
        _run(["explain", "default/nope", "--slices", str(slices_file), "--claims", str(claims)])
    with pytest.raises(CommandError, match="exactly one"):
        _run(["explain", "--slices", str(slices_file)])


def test_simulate_and_explain_from_a_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with DevCluster() as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        cluster.create_node("node-a")
        with KubeClient.from_kubeconfig(kubeconfig) as client:
            for body in mock_slices("node-a", "a100x4"):
                client.resource_slices.create(ResourceSlice.model_validate(body))
            client.namespaces.create(
                Namespace(
                    metadata=ObjectMeta(name="ops", labels={"resource.kubernetes.io/admin-access": "true"})
                )
            )
            pending = claim("in-cluster", exact("gpu", f'{MOCK}.productName == "H100"'), namespace="ops")
            pending["metadata"].pop("uid")
            client.resource_claims.create("ops", ResourceClaim.model_validate(pending))
        files = _write(tmp_path / "claims.yaml", [claim("admin", exact("gpu", admin=True), namespace="ops")])
        assert _run(["simulate", "--kubeconfig", str(kubeconfig), "--claims", str(files), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["placed"][0]["claims"][0]["allocation"]["devices"]["results"][0]["adminAccess"] is True
        assert _run(["simulate", "--kubeconfig", str(kubeconfig)]) == 0
        assert "ops/in-cluster" in capsys.readouterr().out
        assert _run(["explain", "ops/in-cluster", "--kubeconfig", str(kubeconfig)]) == 0
        assert '`device.attributes["mock.hdra.io"].productName == "H100"` is false' in capsys.readouterr().out


def test_simulate_kube_version_1_34_explains_consumable_capacity_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capacity-mode slice (allowMultipleAllocations) under 1.34: the gate is off there, so the
    run says so and each card goes whole to one claim (stable allocator: capacity requests ignored)."""
    slices = _write(tmp_path / "slices.yaml", mock_slices("node-a", "a100x4"))
    claims = _write(
        tmp_path / "claims.yaml",
        [claim(f"c{i}", exact("gpu", capacity={"memory": "10Gi"})) for i in range(5)],
    )
    argv = ["simulate", "--slices", str(slices), "--claims", str(claims), "--json", "--seed", "1"]
    assert _run([*argv, "--kube-version", "1.34"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kubernetes"] == "1.34"
    assert "DRAConsumableCapacity" not in report["featureGates"]
    assert any("DRAConsumableCapacity is off in this cluster (Kubernetes 1.34)" in n for n in report["notes"])
    devices = [d["device"] for p in report["placed"] for c in p["claims"] for d in c["devices"]]
    assert len(devices) == 4 == len(set(devices))  # four cards, one claim each; the fifth pends
    assert len(report["pending"]) == 1
    assert _run([*argv, "--kube-version", "1.36"]) == 0
    shared = json.loads(capsys.readouterr().out)
    assert len(shared["placed"]) == 5 and not shared["pending"]
    assert not any("DRAConsumableCapacity is off" in n for n in shared["notes"])


def test_feature_gate_errors_are_one_line(slices_file: Path) -> None:
    for flags, message in (
        (["--feature-gates", "DRAAdminAccess=false"], "locked to true"),
        (["--kube-version", "1.35", "--feature-gates", "DRAListTypeAttributes=true"], "does not exist"),
        (["--feature-gates", "Nope=true"], "unknown feature gate 'Nope'"),
    ):
        with pytest.raises(CommandError, match=message):
            _run(["simulate", "--slices", str(slices_file), *flags])
