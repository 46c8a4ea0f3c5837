"""The registration servicer over a real socket: the status the kubelet reports and the error callback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.plugin import PluginServer, RegistrationServicer
from tests.support.claim_preparer import DRIVER, FakePreparer


@pytest.fixture
def reported() -> list[str]:
    return []


@pytest.fixture
def server(
    preparer: FakePreparer, plugin_dir: Path, registry_dir: Path, reported: list[str]
) -> Iterator[PluginServer]:
    with PluginServer(
        DRIVER,
        preparer,
        plugin_dir=plugin_dir,
        registry_dir=registry_dir,
        on_registration_error=reported.append,
    ) as started:
        yield started


def _notify(server: PluginServer, registered: bool, error: str = "") -> None:
    channel = grpc.insecure_channel(f"unix://{server.registration_socket}")
    try:
        stub = registration_grpc.RegistrationStub(channel)  # type: ignore[no-untyped-call]
        stub.NotifyRegistrationStatus(
            registration.RegistrationStatus(plugin_registered=registered, error=error), timeout=2
        )
    finally:
        channel.close()


def test_rejection_is_logged_and_handed_to_the_callback(
    server: PluginServer, reported: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert not server.registered
    assert server.registration_error is None
    with caplog.at_level(logging.ERROR, logger="hdra.plugin"):
        _notify(server, False, "plugin name mock.hdra.io already registered by another kubelet")
    assert reported == ["plugin name mock.hdra.io already registered by another kubelet"]
    assert not server.registered
    assert server.registration_error == "plugin name mock.hdra.io already registered by another kubelet"
    assert any(
        record.levelno == logging.ERROR and "already registered by another kubelet" in record.getMessage()
        for record in caplog.records
    )


def test_success_clears_an_earlier_error(server: PluginServer, reported: list[str]) -> None:
    _notify(server, False, "first try failed")
    _notify(server, True)
    assert server.registered
    assert server.registration_error is None
    assert reported == ["first try failed"]


def test_rejection_without_a_reason_still_gets_a_message(server: PluginServer, reported: list[str]) -> None:
    _notify(server, False)
    assert reported == ["the kubelet reported plugin_registered=false without a reason"]
    assert server.registration_error == reported[0]


def test_failing_callback_does_not_break_the_answer(preparer: FakePreparer, tmp_path: Path) -> None:
    def explode(message: str) -> None:
        raise RuntimeError(f"event sink down while reporting {message!r}")

    with PluginServer(
        DRIVER,
        preparer,
        plugin_dir=tmp_path / "p",
        registry_dir=tmp_path / "r",
        on_registration_error=explode,
    ) as server:
        _notify(server, False, "rejected")  # raises grpc.RpcError if the answer broke
        assert server.registration_error == "rejected"


def test_servicer_refuses_a_relative_endpoint_and_empty_driver() -> None:
    with pytest.raises(ValueError, match=r"'dra\.sock'"):
        RegistrationServicer(DRIVER, "dra.sock")
    with pytest.raises(ValueError, match="driver name must not be empty"):
        RegistrationServicer("", "/run/dra.sock")
