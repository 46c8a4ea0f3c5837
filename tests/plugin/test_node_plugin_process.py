"""The whole node plugin as a process: registered by the fake kubelet over real unix sockets,
preparing claims from the dev cluster, surviving SIGKILL at every step of a prepare."""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dra_driver.checkpoint import read_claims
from dra_driver.devcluster.kubelet import FakeKubelet
from dra_driver.devices import make_backend
from dra_driver.interception.shared_region import LAYOUT_1_2
from dra_driver.kube import KubeClient
from dra_driver.prepare import ClaimRef
from dra_driver.prepare.failpoints import ENV_VAR, PREPARE_STEPS
from tests.metrics.region import Proc, region_bytes
from tests.support.claims import ClaimSpec, Result, create_allocated_claim
from tests.support.processes import Process, start_devcluster, start_plugin, wait_for

DRIVER = "mock.hdra.io"


@dataclass
class Env:
    tmp: Path
    kubeconfig: Path
    kube: KubeClient
    kubelet: FakeKubelet

    def start_plugin(self, *extra: str, env: dict[str, str] | None = None) -> Process:
        """Start a plugin and wait until the kubelet registered *this* process (a SIGKILLed
        predecessor leaves its socket file behind, which the new one replaces)."""
        before = self.kubelet.plugins.get(DRIVER)
        plugin = start_plugin(self.tmp, self.kubeconfig, "--mode", "capacity", *extra, env=env)

        def registered() -> bool:
            current = self.kubelet.plugins.get(DRIVER)
            return current is not None and current is not before

        assert wait_for(registered, 20.0), plugin.log.read_text()
        return plugin

    def claim(self, name: str, memory: str = "3000Mi", cores: str = "50") -> ClaimRef:
        consumed = {"memory": memory, "cores": cores, "shares": "1"}
        spec = ClaimSpec(name, [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
        created = create_allocated_claim(self.kube, spec)
        assert created.metadata is not None and created.metadata.uid is not None
        return ClaimRef(created.metadata.uid, "default", name)

    def leftovers(self) -> dict[str, list[str]]:
        cdi = sorted(p.name for p in (self.tmp / "cdi").glob("*")) if (self.tmp / "cdi").exists() else []
        claims = self.tmp / "state" / "claims"
        dirs = sorted(p.name for p in claims.iterdir()) if claims.exists() else []
        entries = sorted(read_claims(self.tmp / "state"))
        return {"cdi": cdi, "cache": dirs, "checkpoint": entries}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    cluster, kubeconfig = start_devcluster(tmp_path)
    kubelet = FakeKubelet(tmp_path / "plugins_registry")
    kubelet.start()
    try:
        yield Env(tmp_path, kubeconfig, KubeClient.from_kubeconfig(kubeconfig), kubelet)
    finally:
        kubelet.stop()
        assert cluster.terminate() == 0


def test_prepare_and_unprepare_through_the_kubelet(env: Env) -> None:
    plugin = env.start_plugin()
    try:
        claim = env.claim("inference")
        result = env.kubelet.prepare(DRIVER, [claim])[claim.uid]
        assert result.error == ""
        (device,) = result.devices
        assert device.pool_name == "node-a" and device.device_name == "gpu-0"
        assert device.cdi_device_ids[0].startswith("hdra.io/mock=")
        spec = json.loads(next((env.tmp / "cdi").glob("*.json")).read_text())
        assert "CUDA_DEVICE_MEMORY_LIMIT_0=3000m" in spec["containerEdits"]["env"]
        unprepared = env.kubelet.unprepare(DRIVER, [claim])
        assert unprepared[claim.uid].error == ""
        assert env.leftovers() == {"cdi": [], "cache": [], "checkpoint": []}
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()
    assert not (env.tmp / "plugins" / DRIVER / "dra.sock").exists()
    assert not (env.tmp / "plugins_registry" / f"{DRIVER}-reg.sock").exists()


def test_the_plugin_runs_hamis_priority_feedback_on_its_claims_regions(env: Env) -> None:
    """HAMi feedback.go in the plugin process: low priority yields to high on one card (the regions
    are in HAMi-core b69b1ea's byte layout, where hdra's CDI hook puts them)."""
    plugin = env.start_plugin("--monitor-seconds", "0.1")
    try:
        high, low = env.claim("high", memory="2Gi"), env.claim("low", memory="2Gi")
        results = env.kubelet.prepare(DRIVER, [high, low])
        assert results[high.uid].error == results[low.uid].error == ""
        card = next(
            d
            for d in make_backend("mock", node_name="node-a", profile="a100x4").discover()
            if d.name == "gpu-0"
        )
        regions = {}
        for claim, priority in ((high, 0), (low, 1)):
            directory = env.tmp / "state" / "claims" / claim.uid / "ctr"
            directory.mkdir()
            regions[claim.uid] = directory / "vgpu.cache"
            regions[claim.uid].write_bytes(
                region_bytes(
                    [card.uuid], [2 << 30], [Proc(1, {0: 1 << 20})], priority=priority, recent_kernel=2
                )
            )

        def fields(claim: ClaimRef) -> tuple[int, int]:
            data = regions[claim.uid].read_bytes()
            return struct.unpack_from("<i", data, LAYOUT_1_2.recent_kernel)[0], struct.unpack_from(
                "<i", data, LAYOUT_1_2.utilization_switch
            )[0]

        # high keeps launching kernels (rate_limiter writes recent_kernel = 2 on each launch) ...
        launching = threading.Event()
        launching.set()

        def launcher() -> None:
            fd = os.open(regions[high.uid], os.O_WRONLY)
            try:
                while launching.is_set():
                    os.pwrite(fd, struct.pack("<i", 2), LAYOUT_1_2.recent_kernel)
                    time.sleep(0.02)
            finally:
                os.close(fd)

        thread = threading.Thread(target=launcher)
        thread.start()
        try:  # ... so low stays blocked (recent_kernel -1) and capped, and high runs uncapped
            blocked = wait_for(lambda: fields(low) == (-1, 1) and fields(high)[1] == 0, 20.0)
            assert blocked, plugin.log.read_text()
        finally:
            launching.clear()
            thread.join()
        # high idle: low is unblocked, and nobody is contended
        idle = wait_for(lambda: fields(low) == (0, 0) and fields(high) == (0, 0), 20.0)
        assert idle, plugin.log.read_text()
    finally:
        assert plugin.terminate() == 0, plugin.log.read_text()


def test_bad_claims_get_errors_and_good_ones_still_prepare(env: Env) -> None:
    plugin = env.start_plugin()
    try:
        good = env.claim("good")
        missing = ClaimRef(str(uuid.uuid4()), "default", "missing")
        results = env.kubelet.prepare(DRIVER, [good, missing])
        assert results[good.uid].error == ""
        assert "not found" in results[missing.uid].error
    finally:
        assert plugin.terminate() == 0


@pytest.mark.parametrize("step", PREPARE_STEPS)
def test_sigkill_at_each_prepare_step_then_restart_leaves_nothing_behind(env: Env, step: str) -> None:
    claim = env.claim(f"crash-{PREPARE_STEPS.index(step)}")
    doomed = env.start_plugin(env={ENV_VAR: step})
    with pytest.raises(Exception, match=r"(?i)unavailable|socket|connect|reset|closed"):
        env.kubelet.prepare(DRIVER, [claim], timeout=10.0)
    assert wait_for(lambda: doomed.proc.poll() is not None, 10.0)
    assert doomed.proc.returncode == -9  # SIGKILL, as the failpoint promises
    doomed.terminate()

    restarted = env.start_plugin()
    try:
        result = env.kubelet.prepare(DRIVER, [claim])[claim.uid]
        assert result.error == "", restarted.log.read_text()
        assert env.leftovers()["checkpoint"] == [claim.uid]
        assert env.kubelet.unprepare(DRIVER, [claim])[claim.uid].error == ""
        assert env.leftovers() == {"cdi": [], "cache": [], "checkpoint": []}
    finally:
        assert restarted.terminate() == 0, restarted.log.read_text()


def test_corrupt_checkpoint_is_moved_aside_and_state_rebuilt(env: Env) -> None:
    plugin = env.start_plugin()
    claim = env.claim("survivor")
    assert env.kubelet.prepare(DRIVER, [claim])[claim.uid].error == ""
    assert plugin.terminate() == 0
    checkpoint = env.tmp / "state" / "checkpoint.json"
    checkpoint.write_text('{"version": 1, "claims": {"garbage"')

    restarted = env.start_plugin()
    try:
        assert list((env.tmp / "state").glob("checkpoint.json.corrupt-*"))
        assert env.leftovers()["checkpoint"] == [claim.uid]  # rebuilt from the CDI dir + API
        events = [e for e in env.kube.events.list("default").items if e.reason == "CheckpointCorrupt"]
        assert events and events[0].type == "Warning"
        assert env.kubelet.unprepare(DRIVER, [claim])[claim.uid].error == ""
        assert env.leftovers() == {"cdi": [], "cache": [], "checkpoint": []}
    finally:
        assert restarted.terminate() == 0


def test_claims_deleted_from_the_api_are_cleaned_up(env: Env) -> None:
    plugin = env.start_plugin()
    try:
        claim = env.claim("ephemeral")
        assert env.kubelet.prepare(DRIVER, [claim])[claim.uid].error == ""
        env.kube.resource_claims.delete("default", claim.name)
    finally:
        assert plugin.terminate() == 0
    restarted = env.start_plugin("--cleanup-seconds", "0.2")
    try:
        assert wait_for(lambda: env.leftovers() == {"cdi": [], "cache": [], "checkpoint": []}, 10.0)
    finally:
        assert restarted.terminate() == 0


def test_a_refused_registration_is_logged_and_becomes_an_event(tmp_path: Path) -> None:
    cluster, kubeconfig = start_devcluster(tmp_path)
    picky = FakeKubelet(tmp_path / "plugins_registry", versions=("v9.DRAPlugin",))
    picky.start()
    plugin = start_plugin(tmp_path, kubeconfig, "--mode", "capacity")
    try:
        kube = KubeClient.from_kubeconfig(kubeconfig)

        def refused() -> bool:
            return any(e.reason == "PluginRegistrationFailed" for e in kube.events.list("default").items)

        assert wait_for(refused, 20.0), plugin.log.read_text()
        (event,) = [e for e in kube.events.list("default").items if e.reason == "PluginRegistrationFailed"]
        assert event.type == "Warning" and "v9.DRAPlugin" in (event.message or "")
    finally:
        assert plugin.terminate() == 0
        picky.stop()
        assert cluster.terminate() == 0
    assert re.search(r"^E\d{4} ", plugin.log.read_text(), re.MULTILINE)  # an error line (klog's E header)
