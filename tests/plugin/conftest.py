"""Fixtures for the plugin's gRPC tests: a fake preparer, a started PluginServer and a FakeKubelet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.plugin import PluginServer
from tests.support.claim_preparer import DRIVER, FakePreparer, device


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    return tmp_path / "plugins" / DRIVER


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def preparer() -> FakePreparer:
    return FakePreparer(
        {
            "uid-a": (device("gpu-0"),),
            "uid-b": (device("gpu-1", share_id="share-b"), device("gpu-2", request="extra")),
        }
    )


@pytest.fixture
def plugin(preparer: FakePreparer, plugin_dir: Path, registry_dir: Path) -> Iterator[PluginServer]:
    server = PluginServer(DRIVER, preparer, plugin_dir=plugin_dir, registry_dir=registry_dir)
    server.start()
    yield server
    server.stop(grace=0.5)


@pytest.fixture
def kubelet(registry_dir: Path) -> Iterator[FakeKubelet]:
    with FakeKubelet(registry_dir) as started:
        yield started
