"""build_vendor_edits: each vendor's mechanism (hami.md §4), table-driven on mock vendor cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import (
    DeviceLimit,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
    build_vendor_edits,
)
from tests.interception.cards import CLAIM_UID


def cards(profile: str) -> list[AcceleratorDevice]:
    return make_backend("mock", node_name="node-a", profile=profile).discover()


def settings(tmp_path: Path) -> InterceptionSettings:
    return InterceptionSettings(
        host_library_dir=tmp_path / "lib", state_dir=tmp_path / "state", vdev_dir=tmp_path / "vdev"
    )


CASES = [
    # profile, vendor, memory MiB, cores %, expected env (subset, exact values)
    ("ascend910bx8", "ascend", 2000, None, {
        "ASCEND_VISIBLE_DEVICES": "0", "NPU_MEM_QUOTA": "2000", "NPU_PRIORITY": "100",
        "NPU_GLOBAL_SHM_PATH": "/hami-shared-region/npu-0_global_registry",
        "NPU_LOCAL_SHM_PATH": "/hami-vnpu-shmem/claim.shm"}),
    ("mlu370x4", "cambricon", 9830, 10, {
        "CAMBRICON_VISIBLE_DEVICES": "0", "CAMBRICON_SPLIT_ENABLE": "1", "CAMBRICON_SPLIT_MEMS": "9728",
        "CAMBRICON_SPLIT_VCORES": "10", "CAMBRICON_DSMLU_PROFILE": "10_38"}),
    ("dcuz100x4", "hygon", 8192, 50, {"HIP_VISIBLE_DEVICES": "0"}),
    ("mi300x8", "amd", 4096, 25, {
        "HIP_DEVICE_MEMORY_LIMIT_0": "4096m", "HSA_CU_MASK": "0:0-75"}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case[1] for case in CASES])
def test_each_vendor_gets_its_own_env(
    tmp_path: Path, case: tuple[str, str, int, int | None, dict[str, str]]
) -> None:
    profile, vendor, memory, cores, env = case
    card = cards(profile)[0]
    result = build_vendor_edits(
        vendor, CLAIM_UID, [DeviceLimit(card, memory, cores)], HamiCoreOptions(), settings(tmp_path),
        with_library=False,
    )  # fmt: skip
    assert result.intercepted
    assert {key: result.env[key] for key in env} == env
    assert not any(key.startswith("CUDA_") for key in result.env)
    assert set(result.edits.env) == {f"{k}={v}" for k, v in result.env.items()}


@pytest.mark.parametrize(
    ("profile", "vendor", "visible"),
    [("ascend910bx8", "ascend", "ASCEND_VISIBLE_DEVICES"),
     ("mlu370x4", "cambricon", "CAMBRICON_VISIBLE_DEVICES"),
     ("dcuz100x4", "hygon", "HIP_VISIBLE_DEVICES"),
     ("mi300x8", "amd", "ROCR_VISIBLE_DEVICES")],
)  # fmt: skip
def test_whole_cards_get_only_visibility(tmp_path: Path, profile: str, vendor: str, visible: str) -> None:
    limits = [DeviceLimit(card) for card in cards(profile)[:2]]
    result = build_vendor_edits(
        vendor, CLAIM_UID, limits, HamiCoreOptions(), settings(tmp_path), with_library=True
    )
    assert not result.intercepted
    assert list(result.env) == [visible]
    assert result.files == {}
    assert result.edits.mounts == ()


def test_hygon_writes_one_vdev_config_per_device(tmp_path: Path) -> None:
    first, second = cards("dcuz100x4")[:2]
    limits = [DeviceLimit(second, 4096, 50), DeviceLimit(first, 8192, 10)]
    result = build_vendor_edits(
        "hygon", CLAIM_UID, limits, HamiCoreOptions(), settings(tmp_path), with_library=False
    )
    directory = tmp_path / "vdev" / CLAIM_UID
    assert sorted(result.files) == [directory / "vdev0.conf", directory / "vdev1.conf"]
    # PCI order: the first card (lower bus) is vdev0 with 10 % of 60 CUs = 6 CUs.
    assert result.files[directory / "vdev0.conf"] == (
        f"PciBusId: {first.pci_bus_id}\ncu_mask: 0x3f\ncu_mask: 0x0\ncu_count: 6\nmem: 8192 MiB\n"
        "device_id: 0\nvdev_id: 0\npipe_id: 0\nenable: 1\n"
    )
    assert "cu_count: 30\n" in result.files[directory / "vdev1.conf"]
    assert [(m.host_path, m.container_path) for m in result.edits.mounts] == [
        (str(directory), "/etc/vdev/docker")
    ]


def test_ascend_template_is_a_hard_split(tmp_path: Path) -> None:
    card = cards("ascend910bx8")[3]
    options = HamiCoreOptions(vnpu_template="vir05_1c_16g")
    result = build_vendor_edits(
        "ascend", CLAIM_UID, [DeviceLimit(card, 16384, 25)], options, settings(tmp_path), with_library=True
    )
    assert result.env == {"ASCEND_VISIBLE_DEVICES": "3", "ASCEND_VNPU_SPECS": "vir05_1c_16g"}
    with pytest.raises(InterceptionError, match=r"vir03_1c_8g.*offered by Ascend910B2, not by device npu-3"):
        build_vendor_edits(
            "ascend", CLAIM_UID, [DeviceLimit(card, 8192)], HamiCoreOptions(vnpu_template="vir03_1c_8g"),
            settings(tmp_path), with_library=False,
        )  # fmt: skip


def test_ascend_with_library_mounts_hami_vnpu_core(tmp_path: Path) -> None:
    card = cards("ascend910bx8")[0]
    result = build_vendor_edits(
        "ascend",
        CLAIM_UID,
        [DeviceLimit(card, 2000)],
        HamiCoreOptions(),
        settings(tmp_path),
        with_library=True,
    )
    targets = [m.container_path for m in result.edits.mounts]
    assert targets == ["/hami-vnpu-core", "/etc/ld.so.preload", "/hami-shared-region", "/hami-vnpu-shmem"]
    assert result.cache_dir == tmp_path / "state" / "claims" / CLAIM_UID


def test_ascend_refuses_unequal_quotas(tmp_path: Path) -> None:
    a, b = cards("ascend910bx8")[:2]
    with pytest.raises(InterceptionError, match=r"one memory quota per claim.*\[2000, 4000\]"):
        build_vendor_edits(
            "ascend", CLAIM_UID, [DeviceLimit(a, 2000), DeviceLimit(b, 4000)], HamiCoreOptions(),
            settings(tmp_path), with_library=False,
        )  # fmt: skip


def test_a_mix_of_vendors_is_refused(tmp_path: Path) -> None:
    limits = [DeviceLimit(cards("mi300x8")[0], 100), DeviceLimit(cards("a100x4")[0], 100)]
    with pytest.raises(InterceptionError, match=r"one vendor, not gpu-0 \(amd\), gpu-0 \(nvidia\)"):
        build_vendor_edits(
            "amd", CLAIM_UID, limits, HamiCoreOptions(), settings(tmp_path), with_library=False
        )


def test_nvidia_like_cards_still_get_hami_core(tmp_path: Path) -> None:
    card = cards("a100x4")[0]
    result = build_vendor_edits(
        "nvidia",
        CLAIM_UID,
        [DeviceLimit(card, 3000, 50)],
        HamiCoreOptions(),
        settings(tmp_path),
        with_library=False,
    )
    assert result.env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"


def test_enforcement_none_leaves_only_visibility(tmp_path: Path) -> None:
    card = cards("mlu370x4")[1]
    result = build_vendor_edits(
        "cambricon", CLAIM_UID, [DeviceLimit(card, 1000, 10)], HamiCoreOptions(enforcement="none"),
        settings(tmp_path), with_library=False,
    )  # fmt: skip
    assert result.env == {"CAMBRICON_VISIBLE_DEVICES": "1"}
