"""The committed kubelet API code: up to date with api/proto, deterministic, and wire-exact.

The wire contract checked here is reference dra-api.md section 3 (packages, services, method
paths, message fields and numbers); a mismatch would make the kubelet and the plugin misread each
other silently.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dra_driver.kubeletapi.dra.v1 import api_pb2 as dra_v1
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2 as dra_v1beta1
from dra_driver.kubeletapi.drahealth.v1alpha1 import api_pb2 as health
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration

ROOT = Path(__file__).resolve().parents[2]
GEN_PROTOS = ROOT / "tools" / "gen_protos.py"

needs_grpc_tools = pytest.mark.skipif(
    importlib.util.find_spec("grpc_tools") is None,
    reason="grpc_tools is not importable: install the dev extra (grpcio-tools==1.71.0) to regenerate",
)


def _gen_protos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protos", GEN_PROTOS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_grpc_tools
def test_committed_code_matches_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, str(GEN_PROTOS), "--check"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_grpc_tools
def test_check_names_stale_files_and_regeneration_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = _gen_protos()
    shutil.copytree(ROOT / "api" / "proto", tmp_path / "api" / "proto")
    package = tmp_path / "dra_driver" / "kubeletapi"
    shutil.copytree(ROOT / "dra_driver" / "kubeletapi", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "dra" / "v1" / "api_pb2.pyi").write_text("# edited by hand\n")
    (package / "drahealth" / "v1alpha1" / "api_pb2_grpc.py").unlink()
    (package / "dra" / "v1" / "old_pb2.py").write_text("# from a removed proto\n")

    assert gen.main(["--check"], root=tmp_path) == 1
    report = capsys.readouterr().err
    assert "stale: dra_driver/kubeletapi/dra/v1/api_pb2.pyi" in report
    assert "missing: dra_driver/kubeletapi/drahealth/v1alpha1/api_pb2_grpc.py" in report
    assert "not generated from any proto: dra_driver/kubeletapi/dra/v1/old_pb2.py" in report
    assert "dra/v1beta1" not in report

    assert gen.main([], root=tmp_path) == 0
    assert not (package / "dra" / "v1" / "old_pb2.py").exists()
    assert gen.main(["--check"], root=tmp_path) == 0


@needs_grpc_tools
def test_generation_is_deterministic(tmp_path: Path) -> None:
    gen = _gen_protos()
    gen.generate(tmp_path / "one")
    gen.generate(tmp_path / "two")
    first = {
        p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()
    }
    second = {
        p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()
    }
    assert len(first) == 20
    assert first == second


def _fields(message: Any) -> dict[str, int]:
    return {field.name: field.number for field in message.DESCRIPTOR.fields}


@pytest.mark.parametrize(("module", "package"), [(dra_v1, "v1"), (dra_v1beta1, "v1beta1")])
def test_dra_service_wire_contract(module: Any, package: str) -> None:
    full = f"k8s.io.kubelet.pkg.apis.dra.{package}"
    service = module.DESCRIPTOR.services_by_name["DRAPlugin"]
    assert service.full_name == f"{full}.DRAPlugin"
    assert sorted(method.name for method in service.methods) == [
        "NodePrepareResources",
        "NodeUnprepareResources",
    ]
    assert _fields(module.NodePrepareResourcesRequest) == {"claims": 1}
    assert _fields(module.NodePrepareResourcesResponse) == {"claims": 1}
    assert (
        module.NodePrepareResourcesResponse.DESCRIPTOR.fields_by_name["claims"]
        .message_type.GetOptions()
        .map_entry
    )
    assert _fields(module.NodePrepareResourceResponse) == {"devices": 1, "error": 2}
    device_fields = {"request_names": 1, "pool_name": 2, "device_name": 3, "cdi_device_ids": 4}
    if package == "v1":
        device_fields["share_id"] = 5
        assert module.Device.DESCRIPTOR.fields_by_name["share_id"].has_presence
    assert _fields(module.Device) == device_fields
    assert _fields(module.NodeUnprepareResourcesRequest) == {"claims": 1}
    assert _fields(module.NodeUnprepareResourcesResponse) == {"claims": 1}
    assert _fields(module.NodeUnprepareResourceResponse) == {"error": 1}
    assert _fields(module.Claim) == {"namespace": 1, "uid": 2, "name": 3}


def test_registration_wire_contract() -> None:
    service = registration.DESCRIPTOR.services_by_name["Registration"]
    assert service.full_name == "pluginregistration.Registration"
    assert sorted(method.name for method in service.methods) == ["GetInfo", "NotifyRegistrationStatus"]
    assert _fields(registration.PluginInfo) == {"type": 1, "name": 2, "endpoint": 3, "supported_versions": 4}
    assert _fields(registration.RegistrationStatus) == {"plugin_registered": 1, "error": 2}
    assert _fields(registration.InfoRequest) == {}
    assert _fields(registration.RegistrationStatusResponse) == {}


def test_health_wire_contract() -> None:
    service = health.DESCRIPTOR.services_by_name["DRAResourceHealth"]
    assert service.full_name == "v1alpha1.DRAResourceHealth"
    (method,) = service.methods
    assert method.name == "NodeWatchResources"
    assert method.server_streaming
    assert not method.client_streaming
    assert _fields(health.NodeWatchResourcesRequest) == {}
    assert _fields(health.NodeWatchResourcesResponse) == {"devices": 1}
    assert _fields(health.DeviceIdentifier) == {"pool_name": 1, "device_name": 2}
    assert _fields(health.DeviceHealth) == {
        "device": 1,
        "health": 2,
        "last_updated_time": 3,
        "health_check_timeout_seconds": 4,
        "message": 5,
    }
    assert {v.name: v.number for v in health.HealthStatus.DESCRIPTOR.values} == {
        "UNKNOWN": 0,
        "HEALTHY": 1,
        "UNHEALTHY": 2,
    }


def test_wire_bytes_interoperate_between_v1_and_v1beta1() -> None:
    claim = dra_v1.Claim(namespace="default", uid="uid-1", name="claim-1")
    assert dra_v1beta1.Claim.FromString(claim.SerializeToString()) == dra_v1beta1.Claim(
        namespace="default", uid="uid-1", name="claim-1"
    )
