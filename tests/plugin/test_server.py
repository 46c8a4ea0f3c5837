"""PluginServer over real unix sockets: GetInfo, socket order, permissions, stale sockets, stop."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2 as registration
from dra_driver.kubeletapi.pluginregistration.v1 import api_pb2_grpc as registration_grpc
from dra_driver.plugin import PluginServer, SocketPathError
from tests.support.claim_preparer import DRIVER, FakePreparer


def _registration_stub(path: Path) -> tuple[Any, registration_grpc.RegistrationStub]:
    channel = grpc.insecure_channel(f"unix://{path}")
    return channel, registration_grpc.RegistrationStub(channel)  # type: ignore[no-untyped-call]


def _stale_socket(path: Path) -> None:
    """Leave a socket file behind, as a killed process would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()


def test_get_info_describes_the_dra_plugin_and_answers_fast(plugin: PluginServer) -> None:
    channel, stub = _registration_stub(plugin.registration_socket)
    try:
        info = stub.GetInfo(registration.InfoRequest(), timeout=1)
        assert info.type == "DRAPlugin"
        assert info.name == DRIVER
        assert info.endpoint == str(plugin.dra_socket)
        assert os.path.isabs(info.endpoint)
        assert list(info.supported_versions) == ["v1.DRAPlugin", "v1beta1.DRAPlugin"]
        started = time.perf_counter()
        stub.GetInfo(registration.InfoRequest(), timeout=1)
        assert time.perf_counter() - started < 0.1
    finally:
        channel.close()


def test_dra_socket_serves_before_registration_socket_appears(
    preparer: FakePreparer, plugin_dir: Path, registry_dir: Path
) -> None:
    server = PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir)
    seen: dict[str, bool] = {}
    stop = threading.Event()

    def watch() -> None:
        # Acts like the kubelet's watcher: the moment the registration socket shows up, the DRA
        # endpoint must already accept connections.
        while not stop.is_set():
            if server.registration_socket.exists():
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(str(server.dra_socket))
                    seen["dra_accepts"] = True
                except OSError as exc:
                    seen["dra_accepts"] = False
                    seen[f"error: {exc}"] = True
                finally:
                    probe.close()
                return
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        server.start()
        watcher.join(timeout=10)
    finally:
        stop.set()
        watcher.join()
        server.stop(grace=0)
    assert seen.get("dra_accepts") is True, seen


def test_directories_and_sockets_get_restricted_modes(plugin: PluginServer, tmp_path: Path) -> None:
    assert stat.S_IMODE(plugin.dra_socket.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "plugins").stat().st_mode) == 0o750
    assert stat.S_IMODE(plugin.registration_socket.parent.stat().st_mode) == 0o750
    for path in (plugin.dra_socket, plugin.registration_socket):
        mode = path.lstat().st_mode
        assert stat.S_ISSOCK(mode), path
        assert stat.S_IMODE(mode) == 0o660, path


def test_existing_directory_keeps_its_mode(preparer: FakePreparer, tmp_path: Path) -> None:
    registry_dir = tmp_path / "registry"
    registry_dir.mkdir(mode=0o755)
    os.chmod(registry_dir, 0o755)
    with PluginServer(DRIVER, preparer, plugin_dir=tmp_path / "p", registry_dir=registry_dir):
        assert stat.S_IMODE(registry_dir.stat().st_mode) == 0o755


def test_stop_removes_both_sockets(plugin: PluginServer) -> None:
    assert plugin.dra_socket.exists()
    assert plugin.registration_socket.exists()
    plugin.stop(grace=0)
    assert not plugin.dra_socket.exists()
    assert not plugin.registration_socket.exists()


def test_stale_sockets_are_replaced(preparer: FakePreparer, plugin_dir: Path, registry_dir: Path) -> None:
    server = PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir)
    _stale_socket(server.dra_socket)
    _stale_socket(server.registration_socket)
    with server:
        channel, stub = _registration_stub(server.registration_socket)
        try:
            assert stub.GetInfo(registration.InfoRequest(), timeout=2).name == DRIVER
        finally:
            channel.close()


def test_regular_file_in_the_way_is_an_error_naming_the_path(
    preparer: FakePreparer, plugin_dir: Path, registry_dir: Path
) -> None:
    server = PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir)
    registry_dir.mkdir(parents=True)
    server.registration_socket.write_text("not a socket")
    with pytest.raises(SocketPathError, match=str(server.registration_socket)):
        server.start()
    # Nothing half-started is left behind, and the file in the way is untouched.
    assert not server.dra_socket.exists()
    assert server.registration_socket.read_text() == "not a socket"


def test_too_long_socket_path_is_an_error_naming_it(preparer: FakePreparer, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    server = PluginServer(DRIVER, preparer, plugin_dir=deep, registry_dir=tmp_path / "registry")
    with pytest.raises(SocketPathError, match="unix sockets allow 107"):
        server.start()
    assert not server.registration_socket.exists()


def test_start_twice_is_refused(plugin: PluginServer) -> None:
    with pytest.raises(RuntimeError, match=f"driver {DRIVER} was already started"):
        plugin.start()


def test_invalid_arguments_are_named(preparer: FakePreparer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'a/b'"):
        PluginServer("a/b", preparer, plugin_dir=tmp_path, registry_dir=tmp_path)
    with pytest.raises(ValueError, match="max_workers must be at least 1, got 0"):
        PluginServer(DRIVER, preparer, plugin_dir=tmp_path, registry_dir=tmp_path, max_workers=0)
