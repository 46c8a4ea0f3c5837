"""Node plugin metrics: counts and latency via InstrumentedPreparer, allocation and usage per scrape."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from dra_driver.interception.shared_region import REGION_SIZE
from dra_driver.kube.quantity import MIB
from dra_driver.plugin.metrics import InstrumentedPreparer, MetricsServer, node_registry
from dra_driver.prepare import ClaimRef, DeviceCatalog, PrepareError
from tests.metrics.region import Proc, region_bytes
from tests.metrics.scrape import scrape, value
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def ref_of(node: Node, spec: ClaimSpec) -> ClaimRef:
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    return ClaimRef(claim.metadata.uid, spec.namespace, spec.name)


def share(memory: str, cores: str) -> Result:
    return Result(
        "gpu-0", consumed={"memory": memory, "cores": cores, "shares": "1"}, share_id=str(uuid.uuid4())
    )


class Served:
    def __init__(self, node: Node) -> None:
        inner = node.preparer()
        registry, metrics = node_registry(
            inner.checkpoint,
            lambda: DeviceCatalog.from_slices(node.devices, node.publisher.published_slices),
            node.settings,
            lambda: node.devices,
        )
        self.preparer = InstrumentedPreparer(inner, metrics)
        self.server = MetricsServer(registry, "127.0.0.1", 0)
        self.node = node

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/metrics"


@pytest.fixture
def served(node: Node) -> Iterator[Served]:
    started = Served(node)
    started.server.start()
    yield started
    started.server.stop()


def test_counts_latency_and_allocation_follow_prepare_and_unprepare(served: Served) -> None:
    node, preparer = served.node, served.preparer
    card = node.devices[0]
    small = ref_of(node, ClaimSpec("small", [share("3000Mi", "50")]))
    large = ref_of(node, ClaimSpec("large", [share("8Gi", "30")]))
    third = node.devices[2]
    # A share of the whole card is not intercepted (no HAMi-core limits): it counts the whole card.
    whole_card = {"memory": str(third.memory_bytes), "cores": "100", "shares": "1"}
    whole = ref_of(
        node, ClaimSpec("whole", [Result("gpu-2", consumed=whole_card, share_id=str(uuid.uuid4()))])
    )
    for claim in (small, large, whole):
        preparer.prepare(claim)
    with pytest.raises(PrepareError):
        preparer.prepare(ClaimRef(str(uuid.uuid4()), "default", "missing"))

    series = scrape(served.url)
    assert value(series, "hdra_plugin_operations_total", operation="prepare", result="ok") == 3
    assert value(series, "hdra_plugin_operations_total", operation="prepare", result="error") == 1
    assert value(series, "hdra_plugin_operation_duration_seconds_count", operation="prepare") == 4
    assert value(series, "hdra_plugin_prepared_claims") == 3
    assert value(series, "hdra_device_allocated_memory_bytes", deviceuuid=card.uuid) == (3000 + 8192) * MIB
    assert value(series, "hdra_device_allocated_cores_percent", deviceuuid=card.uuid) == 80
    assert value(series, "hdra_device_allocated_shares", deviceuuid=card.uuid) == 2
    assert value(series, "hdra_device_allocated_memory_bytes", deviceuuid=third.uuid) == third.memory_bytes
    assert value(series, "hdra_device_allocated_cores_percent", deviceuuid=third.uuid) == 100
    assert value(series, "hdra_device_allocated_shares", deviceuuid=node.devices[1].uuid) == 0

    for claim in (small, large, whole):
        preparer.unprepare(claim)
    series = scrape(served.url)
    assert value(series, "hdra_plugin_operations_total", operation="unprepare", result="ok") == 3
    assert value(series, "hdra_plugin_prepared_claims") == 0
    assert value(series, "hdra_device_allocated_memory_bytes", deviceuuid=card.uuid) == 0


def test_usage_sums_the_claims_region_files_and_a_torn_one_does_not_break_scrapes(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    node, preparer = served.node, served.preparer
    card = node.devices[0]
    first = ref_of(node, ClaimSpec("first", [share("4Gi", "50")]))
    second = ref_of(node, ClaimSpec("second", [share("2Gi", "20")]))
    preparer.prepare(first)
    preparer.prepare(second)
    claims_dir = node.settings.interception.claims_dir
    # One region directory per attached container (the CDI hook's <claim dir>/<container id>/):
    # an init container that has not been released yet and the main container.
    regions = {
        "init0": region_bytes([card.uuid], [4096 * MIB], [Proc(7, {0: 1500 * MIB}, {0: 42})]),
        "main1": region_bytes([card.uuid], [4096 * MIB], [Proc(1, {0: 500 * MIB}, {0: 8})]),
    }
    for name, data in regions.items():
        (claims_dir / first.uid / name).mkdir()
        (claims_dir / first.uid / name / "vgpu.cache").write_bytes(data)
    (claims_dir / first.uid / "attached-no-cuda-yet").mkdir()  # no region file: not reported
    (claims_dir / second.uid / "main").mkdir()
    (claims_dir / second.uid / "main" / "vgpu.cache").write_bytes(regions["init0"][: REGION_SIZE // 2])
    (claims_dir / second.uid / "newer").mkdir()  # a HAMi-core layout hdra does not know: no numbers
    (claims_dir / second.uid / "newer" / "vgpu.cache").write_bytes(
        region_bytes([card.uuid], [2048 * MIB], [Proc(1, {0: MIB})], major=1, minor=3)
    )
    caplog.set_level(logging.WARNING, logger="hdra.plugin")

    series = scrape(served.url)
    assert (
        value(series, "hami_vgpu_memory_used_bytes", claim_uid=first.uid, deviceuuid=card.uuid) == 2000 * MIB
    )
    assert value(series, "hami_vgpu_memory_limit_bytes", claim_uid=first.uid) == 4096 * MIB
    assert value(series, "hdra_claim_device_sm_utilization_percent", claim_uid=first.uid) == 50
    assert value(series, "hdra_claim_shared_region_readable", claim_uid=first.uid, region="init0") == 1
    assert value(series, "hdra_claim_shared_region_readable", claim_uid=first.uid, region="main1") == 1
    assert value(series, "hdra_claim_shared_region_readable", claim_uid=second.uid, region="main") == 0
    assert value(series, "hdra_claim_shared_region_readable", claim_uid=second.uid, region="newer") == 0
    unknown = [r.getMessage() for r in caplog.records if "region=newer" in r.getMessage()]
    assert len(unknown) == 1 and "unknown shared region layout: version 1.3" in unknown[0]
    assert not [
        k
        for k in series
        if k[0] == "hdra_claim_shared_region_readable" and ("region", "attached-no-cuda-yet") in k[1]
    ]
    assert not [
        k for k in series if k[0] == "hami_vgpu_memory_used_bytes" and ("claim_uid", second.uid) in k[1]
    ]


def test_unprepare_errors_are_counted(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = served.preparer._preparer

    def failing(claim: ClaimRef) -> None:
        raise PrepareError(f"claim {claim}: cannot update the checkpoint")

    monkeypatch.setattr(inner, "unprepare", failing)
    with pytest.raises(PrepareError):
        served.preparer.unprepare(ClaimRef(str(uuid.uuid4()), "default", "x"))
    series = scrape(served.url)
    assert value(series, "hdra_plugin_operations_total", operation="unprepare", result="error") == 1
    assert value(series, "hdra_plugin_operations_total", operation="unprepare", result="ok") == 0
