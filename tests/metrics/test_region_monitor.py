"""HAMi's monitor feedback (HAMi ``cmd/vGPUmonitor/feedback.go`` at 4707fb0) in the node plugin.

Claims are prepared by the NodePreparer; each "container" is a region file in HAMi-core's exact
byte layout (``tests/metrics/region.py``: the ``shared_region_t`` of HAMi-core b69b1ea and the
older ones) at ``<claim dir>/<container id>/vgpu.cache``, where hdra's CDI hook puts it. The
``RegionMonitor`` runs as the plugin runs it, a background thread; each test wakes it for a pass
and reads back the two fields HAMi-core acts on: ``recent_kernel`` (-1 blocks ``rate_limiter``)
and ``utilization_switch`` (0 lifts the SM limit under ``GPU_CORE_UTILIZATION_POLICY=default``),
at the layout's offsets.
"""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dra_driver.interception.shared_region import LAYOUTS, detect_layout
from dra_driver.plugin.monitor import RegionMonitor
from dra_driver.prepare import ClaimRef, NodePreparer
from tests.metrics.region import Proc, region_bytes
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim

IDLE, ACTIVE = 0, 2  # recent_kernel: HAMi-core's rate_limiter writes 2 on every throttled launch
HIGH, LOW = 0, 1  # CUDA_TASK_PRIORITY as hdra sets it (lower is higher)


@dataclass
class Container:
    path: Path

    def fields(self) -> tuple[int, int]:
        """(recent_kernel, utilization_switch) read at the file's layout offsets."""
        data = self.path.read_bytes()
        layout = detect_layout(data, self.path)
        return (
            struct.unpack_from("<i", data, layout.recent_kernel)[0],
            struct.unpack_from("<i", data, layout.utilization_switch)[0],
        )

    def launch(self) -> None:
        """What rate_limiter does on a kernel launch: recent_kernel = 2."""
        data = bytearray(self.path.read_bytes())
        struct.pack_into("<i", data, detect_layout(data, self.path).recent_kernel, ACTIVE)
        self.path.write_bytes(bytes(data))


class Harness:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.preparer: NodePreparer = node.preparer()
        self.monitor = RegionMonitor(
            self.preparer.checkpoint.entries, node.settings.interception, node_name="node-a", interval=3600
        )

    def claim(self, name: str, card: str = "gpu-0") -> ClaimRef:
        consumed = {"memory": "2Gi", "cores": "30", "shares": "1"}
        spec = ClaimSpec(name, [Result(card, consumed=consumed, share_id=str(uuid.uuid4()))])
        created = create_allocated_claim(self.node.kube, spec)
        assert created.metadata is not None and created.metadata.uid is not None
        ref = ClaimRef(created.metadata.uid, "default", name)
        self.preparer.prepare(ref)
        return ref

    def container(
        self, claim: ClaimRef, name: str, *, priority: int, recent: int, cards: tuple[str, ...] = ("gpu-0",),
        layout: str = "1.2",
    ) -> Container:  # fmt: skip
        """A region as HAMi-core creates it in the container's directory (switch starts at 1)."""
        uuids = [next(d.uuid for d in self.node.devices if d.name == card) for card in cards]
        directory = self.node.settings.interception.claims_dir / claim.uid / name
        directory.mkdir()
        path = directory / "vgpu.cache"
        data = region_bytes(uuids, [2 << 30] * len(uuids), [Proc(1, {0: 1 << 20})], layout=layout,
                            priority=priority, recent_kernel=recent)  # fmt: skip
        path.write_bytes(data)
        return Container(path)

    def step(self) -> None:
        """One feedback pass of the running monitor thread, started now (it idles between passes)."""
        target = self.monitor.passes + 1
        self.monitor.wake()
        assert self.monitor.wait_for_passes(target, 30.0), "the monitor did not run a pass"
        assert self.monitor.errors == 0


@pytest.fixture
def harness(node: Node) -> Iterator[Harness]:
    started = Harness(node)
    started.monitor.start()
    assert started.monitor.wait_for_passes(1, 30.0)  # the pass at start, before any region exists
    yield started
    started.monitor.stop()


def test_a_lone_busy_container_runs_uncapped(harness: Harness) -> None:
    # corePolicy default: the only user of a card gets utilization_switch 0 (HAMi#737).
    alone = harness.container(harness.claim("alone"), "ctr", priority=LOW, recent=ACTIVE)
    harness.step()
    assert alone.fields() == (1, 0)  # recent_kernel decays 2 -> 1, still counted as active
    harness.step()
    assert alone.fields() == (0, 0)


def test_two_busy_containers_of_one_priority_are_both_capped(harness: Harness) -> None:
    first = harness.container(harness.claim("first"), "a", priority=LOW, recent=ACTIVE)
    second = harness.container(harness.claim("second"), "b", priority=LOW, recent=ACTIVE)
    harness.step()
    assert first.fields() == second.fields() == (1, 1)
    harness.step()  # both idle now (recent_kernel reached 0): nobody is contended any more
    assert first.fields() == second.fields() == (0, 0)


def test_low_priority_yields_to_high_priority_on_the_same_card(harness: Harness) -> None:
    high = harness.container(harness.claim("high"), "h", priority=HIGH, recent=ACTIVE)
    low = harness.container(harness.claim("low"), "l", priority=LOW, recent=ACTIVE)
    harness.step()
    assert low.fields() == (-1, 1)  # blocked: rate_limiter sleeps while recent_kernel < 0
    assert high.fields() == (1, 0)  # the high-priority claim runs uncapped
    high.launch()
    harness.step()
    assert low.fields() == (-1, 1)
    harness.step()
    harness.step()  # high idle for a pass: low is unblocked (0) and alone
    assert high.fields() == (0, 0)
    assert low.fields() == (0, 0)


def test_priority_only_matters_on_a_shared_card(harness: Harness) -> None:
    high = harness.container(harness.claim("high"), "h", priority=HIGH, recent=ACTIVE)
    low = harness.container(
        harness.claim("low", card="gpu-1"), "l", priority=LOW, recent=ACTIVE, cards=("gpu-1",)
    )
    harness.step()
    assert high.fields() == (1, 0)
    assert low.fields() == (1, 0)


@pytest.mark.parametrize("layout", [x.name for x in LAYOUTS])
def test_every_known_layout_gets_the_feedback_at_its_own_offsets(harness: Harness, layout: str) -> None:
    high = harness.container(harness.claim("high"), "h", priority=HIGH, recent=ACTIVE, layout=layout)
    low = harness.container(harness.claim("low"), "l", priority=LOW, recent=ACTIVE, layout=layout)
    before = low.path.read_bytes()
    harness.step()
    assert low.fields() == (-1, 1) and high.fields() == (1, 0)
    after = low.path.read_bytes()
    layout_of = detect_layout(after, low.path)
    changed = [i for i in range(len(after)) if after[i] != before[i]]
    assert all(layout_of.recent_kernel <= i < layout_of.recent_kernel + 4 for i in changed)


def test_unknown_or_symlinked_regions_are_left_out_and_never_written(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hdra.plugin")
    claim = harness.claim("odd")
    busy = harness.container(claim, "known", priority=LOW, recent=ACTIVE)
    unknown_dir = harness.node.settings.interception.claims_dir / claim.uid / "newer"
    unknown_dir.mkdir()
    unknown = region_bytes(["GPU-x"], [1], [], major=1, minor=3, recent_kernel=ACTIVE)
    (unknown_dir / "vgpu.cache").write_bytes(unknown)
    host_file = tmp_path / "host-file"
    host_file.write_bytes(region_bytes(["GPU-y"], [1], [], recent_kernel=ACTIVE))
    linked_dir = harness.node.settings.interception.claims_dir / claim.uid / "linked"
    linked_dir.mkdir()
    (linked_dir / "vgpu.cache").symlink_to(host_file)
    host_before = host_file.read_bytes()

    harness.step()
    harness.step()
    assert busy.fields() == (0, 0)
    assert (unknown_dir / "vgpu.cache").read_bytes() == unknown
    assert host_file.read_bytes() == host_before
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unknown shared region layout: version 1.3" in m for m in messages) == 1  # once per path
    assert sum("linked/vgpu.cache" in m for m in messages) == 1


def test_regions_of_claims_that_are_not_prepared_are_not_touched(harness: Harness) -> None:
    busy = harness.container(harness.claim("prepared"), "ctr", priority=LOW, recent=ACTIVE)
    stray = harness.node.settings.interception.claims_dir / str(uuid.uuid4()) / "ctr"
    stray.mkdir(parents=True)
    data = region_bytes(["GPU-z"], [1], [Proc(1, {0: 1})], recent_kernel=ACTIVE)
    (stray / "vgpu.cache").write_bytes(data)
    harness.step()
    assert busy.fields() == (1, 0)
    assert (stray / "vgpu.cache").read_bytes() == data
