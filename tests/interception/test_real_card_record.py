"""What HAMi-core did on a real H200 with a claim prepared by hdra (``tools/real_card_check.py``).

The record in ``fixtures/real_card_h200/`` was taken once on a GPU machine: hdra's NVIDIA backend
discovered the card, the node plugin prepared a claim for 16 GiB and 50 % of it, and test processes
ran with the CDI spec's env and mounts in their own PID and mount namespaces. These tests pin what
that run showed, because the enforcement design (DESIGN §5) rests on it, and they check that hdra's
region reader understands the region files the real library wrote.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from dra_driver.interception.shared_region import parse_shared_region

FIXTURE = Path(__file__).parent / "fixtures" / "real_card_h200"
GIB_MIB = 1024


def record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "record.json").read_text())
    return data


def claim_cap_mib() -> int:
    return int(record()["prepare"]["claims"][0]["devices"][0]["memory_mib"])


def test_the_claim_was_prepared_by_the_node_plugin_on_the_real_card() -> None:
    prepared = record()["prepare"]
    assert prepared["pod"]["status"] == "Running"
    env = prepared["claims"][0]["env"]
    assert env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "16384m"
    assert env["CUDA_DEVICE_SM_LIMIT_0"] == "50"
    assert prepared["devices"][0]["product_name"] == "NVIDIA H200"


def test_the_memory_cap_holds_in_one_pid_namespace() -> None:
    cap = claim_cap_mib()
    for step in ("memory_cap", "memory_cap_64mib_chunks"):
        result = record()[step]["result"]
        assert result["refused"], step
        # refused below the cap, and no more than 1 GiB below it (the CUDA context counts too)
        assert cap - GIB_MIB <= result["allocated_mib"] <= cap, step
    control = record()["memory_uncapped_to_cap_plus_4gib"]["result"]
    assert not control["refused"]
    assert control["allocated_mib"] == cap + 4 * GIB_MIB


def test_one_region_shared_by_two_pid_namespaces_does_not_hold_the_cap() -> None:
    """The fact behind DESIGN §5: B's HAMi-core drops A's slot, so each reaches the whole cap."""
    shared = record()["two_pid_namespaces_one_region"]
    together = shared["a"]["allocated_mib"] + shared["b"]["result"]["allocated_mib"]
    assert together > 1.5 * claim_cap_mib()


def test_one_region_per_pid_namespace_holds_the_sum() -> None:
    separate = record()["two_pid_namespaces_own_regions_half_limit_each"]
    together = separate["a"]["allocated_mib"] + separate["b"]["result"]["allocated_mib"]
    assert separate["a"]["refused"]
    assert separate["b"]["result"]["refused"]
    assert together <= claim_cap_mib()


def test_the_regions_the_real_library_wrote_are_read_by_hdra() -> None:
    path = FIXTURE / "region-separate-0.bin.gz"
    region = parse_shared_region(gzip.decompress(path.read_bytes()), path)
    (device,) = region.devices
    assert device.uuid == record()["prepare"]["devices"][0]["uuid"]
    assert device.limit_bytes == 8 * GIB_MIB * 1024 * 1024
    assert device.sm_limit_percent == 50
    # A held 7424 MiB of tensors when the region was copied; HAMi-core also counts its context.
    assert (
        device.used_bytes
        == record()["two_pid_namespaces_own_regions_half_limit_each"]["regions"]["separate-a/vgpu.cache"][
            "devices"
        ][0]["used_bytes"]
    )
    assert (
        device.used_bytes
        >= record()["two_pid_namespaces_own_regions_half_limit_each"]["a"]["allocated_mib"] * 1024 * 1024
    )


def test_the_sm_limit_was_not_enforced_on_this_machine() -> None:
    """Recorded as found: 50 % SM limit, no throughput change (see benchmarks/RESULTS.md)."""
    uncapped = record()["matmul_uncapped"]["result"]["tflops"]
    for step in ("matmul_hami_sm_limit_default_policy", "matmul_hami_sm_limit_force_policy"):
        assert record()[step]["result"]["tflops"] > 0.9 * uncapped, step


def test_hdra_hooks_give_one_pid_namespace_the_claim_at_a_time() -> None:
    """DESIGN §5 as built, on the real card: B is refused while A lives; C gets the claim after A."""
    run = record()["two_pid_namespaces_with_hdra_hooks"]
    cap = claim_cap_mib()
    assert run["a"]["refused"]
    assert cap - GIB_MIB <= run["a"]["allocated_mib"] <= cap
    refused = run["b_second_pid_namespace_while_a_lives"]["result"]["refused_by_hook"]
    assert "in another PID namespace" in refused
    assert run["release_a"] == "ok"
    after = run["c_after_a_released"]["result"]
    assert after["refused"]
    assert cap - GIB_MIB <= after["allocated_mib"] <= cap
    # the hook gave C its own region directory under the claim's host directory
    assert list(run["regions"]) == ["ctr-c/vgpu.cache"]
    path = FIXTURE / "region-hook-ctr-c.bin.gz"
    region = parse_shared_region(gzip.decompress(path.read_bytes()), path)
    assert region.devices[0].limit_bytes == cap * 1024 * 1024
