"""NodePrepareResources / NodeUnprepareResources through the fake kubelet, over v1 and v1beta1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.devcluster.kubelet import ClaimPrepareResult, FakeKubelet, KubeletDevice
from dra_driver.plugin import PluginServer
from dra_driver.prepare.api import ClaimRef, PrepareError
from tests.support.claim_preparer import DRIVER, FakePreparer, claim

GPU0 = KubeletDevice(("gpu",), "node-a", "gpu-0", ("hdra.io/mock=gpu-0",), None)
GPU1_SHARED = KubeletDevice(("gpu",), "node-a", "gpu-1", ("hdra.io/mock=gpu-1",), "share-b")
GPU2_EXTRA = KubeletDevice(("extra",), "node-a", "gpu-2", ("hdra.io/mock=gpu-2",), None)


def test_v1_round_trip(plugin: PluginServer, kubelet: FakeKubelet, preparer: FakePreparer) -> None:
    registered = kubelet.wait_for_plugin(DRIVER)
    assert registered.version == "v1.DRAPlugin"
    assert registered.endpoint == str(plugin.dra_socket)
    assert plugin.wait_for_registration_status(10)
    assert plugin.registered

    results = kubelet.prepare(DRIVER, [claim("uid-a"), claim("uid-b")])
    assert results == {
        "uid-a": ClaimPrepareResult(devices=(GPU0,)),
        "uid-b": ClaimPrepareResult(devices=(GPU1_SHARED, GPU2_EXTRA)),
    }
    assert set(preparer.prepared) == {"uid-a", "uid-b"}
    assert preparer.prepared["uid-a"] == ClaimRef("uid-a", "default", "claim-uid-a")

    unprepared = kubelet.unprepare(DRIVER, [claim("uid-a"), claim("uid-b"), claim("never-prepared")])
    assert {uid: result.error for uid, result in unprepared.items()} == {
        "uid-a": "",
        "uid-b": "",
        "never-prepared": "",
    }
    assert preparer.prepared == {}


@pytest.fixture
def old_kubelet(registry_dir: Path) -> Iterator[FakeKubelet]:
    """A 1.32 / 1.33 kubelet: it only speaks v1beta1."""
    with FakeKubelet(registry_dir, versions=("v1beta1.DRAPlugin",)) as started:
        yield started


def test_v1beta1_round_trip(plugin: PluginServer, old_kubelet: FakeKubelet, preparer: FakePreparer) -> None:
    assert old_kubelet.wait_for_plugin(DRIVER).version == "v1beta1.DRAPlugin"
    results = old_kubelet.prepare(DRIVER, [claim("uid-b"), claim("uid-x")])
    # v1beta1 has no share_id; everything else arrives unchanged, errors too.
    assert results["uid-b"] == ClaimPrepareResult(
        devices=(
            KubeletDevice(("gpu",), "node-a", "gpu-1", ("hdra.io/mock=gpu-1",), None),
            GPU2_EXTRA,
        )
    )
    assert "claim-uid-x" in results["uid-x"].error
    assert results["uid-x"].devices == ()
    preparer.errors["uid-b"] = PrepareError("CDI spec dir /var/run/cdi is read-only")
    unprepared = old_kubelet.unprepare(DRIVER, [claim("uid-b")])
    assert unprepared["uid-b"].error == "CDI spec dir /var/run/cdi is read-only"


def test_every_claim_gets_its_own_outcome(
    plugin: PluginServer, kubelet: FakeKubelet, preparer: FakePreparer
) -> None:
    kubelet.wait_for_plugin(DRIVER)
    preparer.errors["uid-b"] = PrepareError("claim default/claim-uid-b: device gpu-1 no longer exists")
    preparer.errors["uid-c"] = RuntimeError("checkpoint file is corrupt")
    preparer.errors["uid-d"] = PrepareError()
    results = kubelet.prepare(DRIVER, [claim("uid-a"), claim("uid-b"), claim("uid-c"), claim("uid-d")])
    assert results["uid-a"] == ClaimPrepareResult(devices=(GPU0,))
    assert results["uid-b"] == ClaimPrepareResult(
        error="claim default/claim-uid-b: device gpu-1 no longer exists"
    )
    assert "RuntimeError" in results["uid-c"].error
    assert "checkpoint file is corrupt" in results["uid-c"].error
    assert "uid-c" in results["uid-c"].error
    assert results["uid-d"].error  # an empty PrepareError must not read as success
    assert "uid-d" in results["uid-d"].error

    preparer.errors["uid-a"] = KeyError("uid-a")
    unprepared = kubelet.unprepare(DRIVER, [claim("uid-a"), claim("uid-e")])
    assert "KeyError" in unprepared["uid-a"].error
    assert unprepared["uid-e"].error == ""


def test_different_claims_in_one_request_prepare_in_parallel(
    plugin: PluginServer, kubelet: FakeKubelet, preparer: FakePreparer
) -> None:
    kubelet.wait_for_plugin(DRIVER)
    # Both claims must be inside prepare at the same time to pass the barrier; serialised calls
    # would break it after 10 s and report BrokenBarrierError as the claims' errors.
    barrier = threading.Barrier(2, timeout=10)

    def hook(action: str, ref: ClaimRef) -> None:
        barrier.wait()

    preparer.hook = hook
    results = kubelet.prepare(DRIVER, [claim("uid-a"), claim("uid-b")])
    assert results["uid-a"].error == ""
    assert results["uid-b"].error == ""


def test_different_claims_in_concurrent_requests_prepare_in_parallel(
    plugin: PluginServer, kubelet: FakeKubelet, preparer: FakePreparer
) -> None:
    kubelet.wait_for_plugin(DRIVER)
    barrier = threading.Barrier(2, timeout=10)

    def hook(action: str, ref: ClaimRef) -> None:
        barrier.wait()

    preparer.hook = hook
    results: dict[str, ClaimPrepareResult] = {}

    def call(uid: str) -> None:
        results.update(kubelet.prepare(DRIVER, [claim(uid)]))

    threads = [threading.Thread(target=call, args=(uid,)) for uid in ("uid-a", "uid-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {
        "uid-a": ClaimPrepareResult(devices=(GPU0,)),
        "uid-b": ClaimPrepareResult(devices=(GPU1_SHARED, GPU2_EXTRA)),
    }
