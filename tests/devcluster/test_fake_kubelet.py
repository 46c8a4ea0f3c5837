"""FakeKubelet against real gRPC servers on unix sockets: registration rules and the answer checks."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from dra_driver.devcluster.kubelet import FakeKubelet, KubeletCheckError
from dra_driver.kubeletapi.dra.v1 import api_pb2 as dra_v1
from dra_driver.kubeletapi.dra.v1 import api_pb2_grpc as dra_v1_grpc
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.plugin import PluginServer, RegistrationServicer
from dra_driver.plugin.runner import ClaimRunner
from dra_driver.plugin.servicer import DRAPluginServicer
from tests.support.claim_preparer import DRIVER, FakePreparer, claim, device


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    path = tmp_path / "registry"
    path.mkdir()
    return path


@pytest.fixture
def kubelet(registry_dir: Path) -> Iterator[FakeKubelet]:
    with FakeKubelet(registry_dir) as started:
        yield started


@contextmanager
def serving(path: Path, *servicers: Any) -> Iterator[None]:
    """A raw grpc server on unix socket ``path`` with the given (servicer, add_function) pairs."""
    server = grpc.server(ThreadPoolExecutor(4))
    for servicer in servicers:
        if isinstance(servicer, RegistrationServicer):
            registration_grpc.add_RegistrationServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        else:
            dra_v1_grpc.add_DRAPluginServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix://{path}")
    server.start()
    try:
        yield
    finally:
        server.stop(0).wait()
        path.unlink(missing_ok=True)


class BrokenDRA(dra_v1_grpc.DRAPluginServicer):
    """A DRA plugin that breaks one of the kubelet's rules, chosen by ``mode``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def NodePrepareResources(self, request: Any, context: Any) -> Any:  # noqa: N802
        if self.mode == "abort":
            context.abort(grpc.StatusCode.INTERNAL, "plugin crashed while preparing")
        response = dra_v1.NodePrepareResourcesResponse()
        uids = [c.uid for c in request.claims]
        if self.mode == "missing":
            uids = uids[1:]
        if self.mode == "unknown":
            uids.append("uid-stranger")
        for uid in uids:
            entry = response.claims[uid]
            found = entry.devices.add(
                request_names=["gpu"], pool_name="node-a", device_name="gpu-0", cdi_device_ids=["hdra.io/m=0"]
            )
            if self.mode in ("no-cdi", "error-without-cdi"):
                del found.cdi_device_ids[:]
            if self.mode == "error-without-cdi":
                entry.error = "device gpu-0 is busy"
            if self.mode == "no-pool":
                found.pool_name = ""
            if self.mode == "no-device":
                found.device_name = ""
        return response

    def NodeUnprepareResources(self, request: Any, context: Any) -> Any:  # noqa: N802
        response = dra_v1.NodeUnprepareResourcesResponse()
        for c in list(request.claims)[: -1 if self.mode == "missing" else None]:
            response.claims[c.uid].error = ""
        return response


@contextmanager
def raw_plugin(tmp_path: Path, registry_dir: Path, dra: Any) -> Iterator[RegistrationServicer]:
    dra_socket = tmp_path / "dra.sock"
    reg = RegistrationServicer(DRIVER, str(dra_socket))
    with serving(dra_socket, dra), serving(registry_dir / f"{DRIVER}-reg.sock", reg):
        yield reg


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            "missing",
            r"NodePrepareResources of DRA driver mock.hdra.io skipped 1 claim\(s\): default/claim-uid-1",
        ),
        ("unknown", r"answered for claim UID\(s\) \['uid-stranger'\] that were not requested"),
        (
            "no-cdi",
            r"claim default/claim-uid-1 \(uid uid-1\), device #0 \(node-a/gpu-0\) has no cdi_device_ids",
        ),
        ("no-pool", "device #0 .device_name 'gpu-0'. has an empty pool_name"),
        ("no-device", "device #0 .pool_name 'node-a'. has an empty device_name"),
        (
            "abort",
            r"NodePrepareResources \(v1.DRAPlugin\) of DRA driver mock.hdra.io .* plugin crashed while",
        ),
    ],
)
def test_kubelet_refuses_a_broken_prepare_answer(
    tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet, mode: str, message: str
) -> None:
    with raw_plugin(tmp_path, registry_dir, BrokenDRA(mode)):
        kubelet.wait_for_plugin(DRIVER)
        with pytest.raises(KubeletCheckError, match=message):
            kubelet.prepare(DRIVER, [claim("uid-1"), claim("uid-2")])


def test_devices_of_a_failed_claim_are_not_checked(
    tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet
) -> None:
    with raw_plugin(tmp_path, registry_dir, BrokenDRA("error-without-cdi")):
        kubelet.wait_for_plugin(DRIVER)
        results = kubelet.prepare(DRIVER, [claim("uid-1")])
        assert results["uid-1"].error == "device gpu-0 is busy"
        assert results["uid-1"].devices == ()


def test_kubelet_refuses_an_unprepare_answer_missing_a_claim(
    tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet
) -> None:
    with raw_plugin(tmp_path, registry_dir, BrokenDRA("missing")):
        kubelet.wait_for_plugin(DRIVER)
        with pytest.raises(
            KubeletCheckError, match=r"NodeUnprepareResources .* skipped 1 claim\(s\): .*uid-2"
        ):
            kubelet.unprepare(DRIVER, [claim("uid-1"), claim("uid-2")])


def test_plugin_without_a_known_dra_service_is_refused_and_told_why(
    tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet
) -> None:
    reported: list[str] = []
    socket = registry_dir / "old-reg.sock"
    reg = RegistrationServicer(
        DRIVER,
        str(tmp_path / "dra.sock"),
        supported_versions=["v1alpha3.NodeService"],
        on_registration_error=reported.append,
    )
    with serving(socket, reg):
        reason = kubelet.wait_for_rejection(socket)
        assert "supports none of the kubelet's DRA services" in reason
        assert "v1alpha3.NodeService" in reason
        assert reg.wait_for_status(10)
        assert reg.registration_error == reason
        assert reported == [reason]
        assert DRIVER not in kubelet.plugins


class _InfoServicer(RegistrationServicer):
    def __init__(self, info: registration.PluginInfo) -> None:
        super().__init__(DRIVER, "/unused")
        self.info = info

    def GetInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self.info


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (
            registration.PluginInfo(type="CSIPlugin", name=DRIVER),
            "no handler registered for plugin type 'CSIPlugin'",
        ),
        (registration.PluginInfo(type="DRAPlugin", name=""), "reported an empty name"),
        (
            registration.PluginInfo(
                type="DRAPlugin", name=DRIVER, endpoint="dra.sock", supported_versions=["v1.DRAPlugin"]
            ),
            "reported endpoint 'dra.sock', which is not an absolute path",
        ),
    ],
)
def test_invalid_plugin_info_is_refused(
    registry_dir: Path, kubelet: FakeKubelet, info: registration.PluginInfo, reason: str
) -> None:
    socket = registry_dir / "bad-reg.sock"
    servicer = _InfoServicer(info)
    with serving(socket, servicer):
        assert reason in kubelet.wait_for_rejection(socket)
        assert servicer.wait_for_status(10)
        assert reason in (servicer.registration_error or "")


def test_empty_endpoint_means_the_registration_socket_itself(
    registry_dir: Path, kubelet: FakeKubelet
) -> None:
    socket = registry_dir / "combined-reg.sock"
    info = registration.PluginInfo(
        type="DRAPlugin", name=DRIVER, endpoint="", supported_versions=["v1.DRAPlugin"]
    )
    runner = ClaimRunner(FakePreparer({"uid-1": (device("gpu-0"),)}))
    with serving(socket, _InfoServicer(info), DRAPluginServicer(runner)):
        assert kubelet.wait_for_plugin(DRIVER).endpoint == str(socket)
        assert kubelet.prepare(DRIVER, [claim("uid-1")])["uid-1"].devices[0].device_name == "gpu-0"
    runner.shutdown()


def test_hidden_sockets_are_ignored(tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet) -> None:
    hidden = registry_dir / ".hidden-reg.sock"
    # Sockets are handled in name order within one scan, and "." sorts first: once the visible
    # plugin is registered, a non-ignored hidden socket would already have been refused.
    with (
        serving(hidden, _InfoServicer(registration.PluginInfo(type="CSIPlugin", name="hidden"))),
        raw_plugin(tmp_path, registry_dir, BrokenDRA("ok")),
    ):
        kubelet.wait_for_plugin(DRIVER)
        assert kubelet.rejections == {}
        assert list(kubelet.plugins) == [DRIVER]


def test_removed_socket_deregisters_and_a_restart_registers_again(
    tmp_path: Path, registry_dir: Path, kubelet: FakeKubelet
) -> None:
    preparer = FakePreparer({"uid-1": (device("gpu-0"),)})
    plugin_dir = tmp_path / "plugins"
    first = PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir)
    with first:
        kubelet.wait_for_plugin(DRIVER)
        assert first.wait_for_registration_status(10)
        assert first.registered
    kubelet.wait_for_deregistration(DRIVER)
    with pytest.raises(KubeletCheckError, match=r"DRA driver mock\.hdra\.io is not registered"):
        kubelet.prepare(DRIVER, [claim("uid-1")])
    with PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir) as second:
        assert kubelet.wait_for_plugin(DRIVER).registration_socket == second.registration_socket
        assert kubelet.prepare(DRIVER, [claim("uid-1")])["uid-1"].error == ""
