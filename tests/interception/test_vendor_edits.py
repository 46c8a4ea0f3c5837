"""build_vendor_edits: each vendor's container contract, pinned to the upstream file it comes from.

Upstream sources (read at the commits in reference/hami.md):
* AMD — Project-HAMi/amd-device-plugin ``internal/pkg/plugin/plugin.go`` (``Allocate``);
* Hygon — Project-HAMi/dcu-vgpu-device-plugin ``internal/pkg/dcu/server.go`` (``Allocate``,
  ``createvdevFiles``, ``createvdevFile``);
* Ascend — Project-HAMi/ascend-device-plugin ``internal/server/allocate.go``
  (``buildContainerAllocateResponse``);
* Cambricon — Cambricon/cambricon-k8s-device-plugin release v1.3.6 ``device-plugin/pkg/mlu/
  server.go`` (``allocateMLUShare``, ``PrepareResponse``) and ``pkg/mlu/const.go``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.interception import (
    DeviceLimit,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
    NodeUnits,
    UnitGrant,
    build_vendor_edits,
)
from tests.interception.cards import CLAIM_UID

OTHER_UID = "0b9f6c1e-2d3a-4e5f-8a7b-6c5d4e3f2a1b"


def cards(profile: str) -> list[AcceleratorDevice]:
    return make_backend("mock", node_name="node-a", profile=profile).discover()


def settings(tmp_path: Path) -> InterceptionSettings:
    return InterceptionSettings(
        host_library_dir=tmp_path / "lib",
        state_dir=tmp_path / "state",
        vdev_dir=tmp_path / "vdev",
        dev_dir=tmp_path / "dev",
        hyhal_dir=tmp_path / "hyhal",
        hygon_driver_dir=tmp_path / "dtk",
        ascend_vnpu_core_dir=tmp_path / "hami-vnpu-core",
        ascend_shared_region_dir=tmp_path / "hami-shared-region",
    )


def nodes(result_edits: object, tmp_path: Path) -> list[tuple[str, str | None, str | None]]:
    device_nodes = getattr(result_edits, "device_nodes", ())
    return [(n.path, n.host_path, n.permissions) for n in device_nodes]


# ---- AMD: amd-device-plugin internal/pkg/plugin/plugin.go Allocate ----------------------------------


def test_amd_share_gets_ld_audit_library_memory_limit_and_cu_mask(tmp_path: Path) -> None:
    card = cards("mi300x8")[0]
    result = build_vendor_edits(
        "amd", CLAIM_UID, [DeviceLimit(card, 16384, 25)], HamiCoreOptions(), settings(tmp_path),
        with_library=True,
    )  # fmt: skip
    # plugin.go: ROCR_VISIBLE_DEVICES = ROCr UUIDs; HSA_CU_MASK "<i>:<ID list>"; the memory limit
    # "%vm" of devreq[0]; LD_AUDIT=/usr/local/vgpu/libamvgpu.so.
    assert result.env == {
        "ROCR_VISIBLE_DEVICES": str(card.extra_attributes["rocrUuid"]),
        "HSA_CU_MASK": "0:0-75",  # floor(304 CUs x 25 %) = 76 CUs, first-fit from CU 0
        "HIP_DEVICE_MEMORY_LIMIT": "16384m",
        "HIP_DEVICE_MEMORY_LIMIT_0": "16384m",
        "HIP_DEVICE_MEMORY_SHARED_CACHE": "/usr/local/vgpu/claim/amvgpu.cache",
        "LD_AUDIT": "/usr/local/vgpu/libamvgpu.so",
    }
    # plugin.go: the library from <hook path>/vgpu/libamvgpu.so, read-only, at /usr/local/vgpu/libamvgpu.so.
    library = next(m for m in result.edits.mounts if m.container_path == "/usr/local/vgpu/libamvgpu.so")
    assert library.host_path == str(tmp_path / "lib" / "libamvgpu.so") and "ro" in library.options
    # plugin.go: /dev/kfd, /dev/dri/card<N>, /dev/dri/renderD<M>, all "rw".
    assert nodes(result.edits, tmp_path) == [
        ("/dev/kfd", str(tmp_path / "dev" / "kfd"), "rw"),
        ("/dev/dri/card0", str(tmp_path / "dev" / "dri" / "card0"), "rw"),
        ("/dev/dri/renderD128", str(tmp_path / "dev" / "dri" / "renderD128"), "rw"),
    ]
    assert result.units == (UnitGrant(card.uuid, tuple(range(76))),)


def test_amd_second_claim_on_the_card_gets_the_next_free_compute_units(tmp_path: Path) -> None:
    card = cards("mi300x8")[0]
    taken = NodeUnits.of([UnitGrant(card.uuid, tuple(range(76)))])
    result = build_vendor_edits(
        "amd", OTHER_UID, [DeviceLimit(card, 8192, 50)], HamiCoreOptions(), settings(tmp_path),
        with_library=False, taken=taken,
    )  # fmt: skip
    assert result.env["HSA_CU_MASK"] == "0:76-227"  # 152 CUs after the 76 held ones
    assert "LD_AUDIT" not in result.env  # no library: the mock backend


def test_amd_cu_list_skips_holes_left_by_freed_claims(tmp_path: Path) -> None:
    card = cards("mi300x8")[1]
    taken = NodeUnits.of([UnitGrant(card.uuid, (0, 1, 2, 5, 6))])
    result = build_vendor_edits(
        "amd", CLAIM_UID, [DeviceLimit(card, 8192, 2)], HamiCoreOptions(), settings(tmp_path),
        with_library=False, taken=taken,
    )  # fmt: skip
    # floor(304 x 2 %) = 6 CUs: 3, 4, 7, 8, 9, 10 in the ID-list grammar allocationToIDList writes.
    assert result.env["HSA_CU_MASK"] == "0:3-4,7-10"


def test_amd_two_cards_index_masks_in_container_order_and_memory_per_index(tmp_path: Path) -> None:
    first, second = cards("mi300x8")[:2]
    result = build_vendor_edits(
        "amd", CLAIM_UID, [DeviceLimit(second, 4096, 25), DeviceLimit(first, 8192)], HamiCoreOptions(),
        settings(tmp_path), with_library=False,
    )  # fmt: skip
    uuids = [str(card.extra_attributes["rocrUuid"]) for card in (first, second)]
    assert result.env["ROCR_VISIBLE_DEVICES"] == ",".join(uuids)
    assert result.env["HSA_CU_MASK"] == "1:0-75"  # only the cores-limited card gets a mask entry
    assert result.env["HIP_DEVICE_MEMORY_LIMIT"] == "8192m"
    assert (result.env["HIP_DEVICE_MEMORY_LIMIT_0"], result.env["HIP_DEVICE_MEMORY_LIMIT_1"]) == (
        "8192m",
        "4096m",
    )


def test_amd_refuses_when_the_card_has_too_few_free_compute_units(tmp_path: Path) -> None:
    card = cards("mi300x8")[0]
    taken = NodeUnits.of([UnitGrant(card.uuid, tuple(range(300)))])
    with pytest.raises(
        InterceptionError, match=r"gpu-0: the claim needs 76 of its 304 compute units.*only 4"
    ):
        build_vendor_edits(
            "amd", CLAIM_UID, [DeviceLimit(card, 4096, 25)], HamiCoreOptions(), settings(tmp_path),
            with_library=False, taken=taken,
        )  # fmt: skip


def test_amd_card_without_rocr_uuid_is_refused_by_name(tmp_path: Path) -> None:
    card = cards("mi300x8")[0]
    bare = card.model_copy(update={"extra_attributes": {"computeUnits": 304}})
    with pytest.raises(InterceptionError, match=r"gpu-0 has no rocrUuid attribute"):
        build_vendor_edits(
            "amd", CLAIM_UID, [DeviceLimit(bare)], HamiCoreOptions(), settings(tmp_path), with_library=False
        )


# ---- Hygon: dcu-vgpu-device-plugin internal/pkg/dcu/server.go ---------------------------------------


def test_hygon_share_gets_container_and_host_vdev_configs(tmp_path: Path) -> None:
    card = cards("dcuz100x4")[1]
    result = build_vendor_edits(
        "hygon", CLAIM_UID, [DeviceLimit(card, 8192, 50)], HamiCoreOptions(), settings(tmp_path),
        with_library=True,
    )  # fmt: skip
    body = (
        f"PciBusId: {card.pci_bus_id}\n"
        "cu_mask: 0x000000003fffffff\n"  # createvdevFile: "cu_mask: 0x%s" of a 16-hex-digit word
        "cu_mask: 0x0000000000000000\n"
        "cu_count: 30\n"  # reqcores = Usedcores * ComputeUnit / 100 = 50 % of 60
        "mem: 8192 MiB\n"
        "device_id: {device_id}\n"
        "vdev_id: 0\n"
        "pipe_id: 0\n"
        "enable: 1\n"
    )
    # createvdevFiles: vdev0.conf with device_id 0 in the container's directory, and
    # /etc/vdev/vdev<vdev_id>.conf with the host index.
    assert result.files == {
        tmp_path / "vdev" / CLAIM_UID / "vdev0.conf": body.format(device_id=0),
        tmp_path / "vdev" / "vdev0.conf": body.format(device_id=1),
    }
    assert result.env == {}
    # Allocate: the container dir at /etc/vdev/docker/, HYGONPATH at /opt/hygondriver, /opt/hyhal ro.
    assert [(m.host_path, m.container_path) for m in result.edits.mounts] == [
        (str(tmp_path / "vdev" / CLAIM_UID), "/etc/vdev/docker"),
        (str(tmp_path / "dtk"), "/opt/hygondriver"),
        (str(tmp_path / "hyhal"), "/opt/hyhal"),
    ]
    # Allocate: /dev/kfd and /dev/mkfd "rwm", then the card's dri card and render nodes "rw".
    assert nodes(result.edits, tmp_path) == [
        ("/dev/kfd", str(tmp_path / "dev" / "kfd"), "rwm"),
        ("/dev/mkfd", str(tmp_path / "dev" / "mkfd"), "rwm"),
        ("/dev/dri/card1", str(tmp_path / "dev" / "dri" / "card1"), "rw"),
        ("/dev/dri/renderD129", str(tmp_path / "dev" / "dri" / "renderD129"), "rw"),
    ]


def test_hygon_ids_and_cus_avoid_what_other_claims_hold(tmp_path: Path) -> None:
    first, second = cards("dcuz100x4")[:2]
    taken = NodeUnits.of(
        [
            UnitGrant(first.uuid, tuple(range(30)), vdev_id=0, pipe_id=0),
            UnitGrant(second.uuid, tuple(range(6)), vdev_id=1, pipe_id=0),
            UnitGrant(first.uuid, tuple(range(60)), vdev_id=2, pipe_id=1, held=False),  # best effort
        ]
    )
    result = build_vendor_edits(
        "hygon", OTHER_UID, [DeviceLimit(first, 4096, 50)], HamiCoreOptions(), settings(tmp_path),
        with_library=False, taken=taken,
    )  # fmt: skip
    (grant,) = result.units
    # vdev_id unique per node (AllocateVidx), pipe_id unique per card (AllocatePipeID); a best-effort
    # share holds nothing, so its ids and CUs are free again.
    assert (grant.vdev_id, grant.pipe_id, grant.compute_units) == (1 + 1, 1, tuple(range(30, 60)))
    text = result.files[tmp_path / "vdev" / OTHER_UID / "vdev0.conf"]
    assert "cu_mask: 0x0fffffffc0000000\n" in text and "vdev_id: 2\npipe_id: 1\n" in text


def test_hygon_cus_past_63_go_into_the_second_mask_word(tmp_path: Path) -> None:
    card = cards("dcuz100x4")[0]
    big = card.model_copy(update={"extra_attributes": {**card.extra_attributes, "computeUnits": 120}})
    taken = NodeUnits.of([UnitGrant(big.uuid, tuple(range(60)))])
    result = build_vendor_edits(
        "hygon", CLAIM_UID, [DeviceLimit(big, 4096, 10)], HamiCoreOptions(), settings(tmp_path),
        with_library=False, taken=taken,
    )  # fmt: skip
    text = result.files[tmp_path / "vdev" / CLAIM_UID / "vdev0.conf"]
    # 12 CUs: 60..71 = bits 60-63 of word 0 and bits 0-7 of word 1.
    assert "cu_mask: 0xf000000000000000\ncu_mask: 0x00000000000000ff\ncu_count: 12\n" in text


def test_hygon_refuses_limits_on_several_cards(tmp_path: Path) -> None:
    first, second = cards("dcuz100x4")[:2]
    with pytest.raises(InterceptionError, match=r"vDCU limits one device per container, the claim has 2"):
        build_vendor_edits(
            "hygon", CLAIM_UID, [DeviceLimit(first, 4096, 50), DeviceLimit(second, 4096)],
            HamiCoreOptions(), settings(tmp_path), with_library=False,
        )  # fmt: skip


# ---- Ascend: ascend-device-plugin internal/server/allocate.go ---------------------------------------


def test_ascend_hami_core_mode_contract(tmp_path: Path) -> None:
    card = cards("ascend910bx8")[2]
    result = build_vendor_edits(
        "ascend", CLAIM_UID, [DeviceLimit(card, 2000, 30)], HamiCoreOptions(), settings(tmp_path),
        with_library=True,
    )  # fmt: skip
    assert result.env == {
        "ASCEND_VISIBLE_DEVICES": "2",
        "NPU_MEM_QUOTA": "2000",
        "NPU_PRIORITY": "30",
        "NPU_GLOBAL_SHM_PATH": "/hami-shared-region/2_global_registry",
        "NPU_LOCAL_SHM_PATH": "/hami-vnpu-shmem/vnpu_local_shmem",
    }
    mounts = [(m.host_path, m.container_path, "ro" in m.options) for m in result.edits.mounts]
    assert mounts == [
        ("/usr/local/bin/npu-smi", "/usr/local/bin/npu-smi", True),
        ("/etc/ascend_install.info", "/etc/ascend_install.info", True),
        ("/usr/local/Ascend/driver/lib64/driver", "/usr/local/Ascend/driver/lib64/driver", True),
        ("/usr/local/Ascend/driver/version.info", "/usr/local/Ascend/driver/version.info", True),
        (str(tmp_path / "hami-vnpu-core"), "/hami-vnpu-core", True),
        (str(tmp_path / "hami-vnpu-core" / "ld.so.preload"), "/etc/ld.so.preload", True),
        (str(tmp_path / "hami-shared-region"), "/hami-shared-region", False),
        (str(tmp_path / "state" / "claims" / CLAIM_UID), "/hami-vnpu-shmem", False),
    ]


def test_ascend_visible_devices_use_the_physical_id_when_known(tmp_path: Path) -> None:
    card = cards("ascend910bx8")[1]
    remapped = card.model_copy(update={"extra_attributes": {**card.extra_attributes, "phyId": 5}})
    result = build_vendor_edits(
        "ascend", CLAIM_UID, [DeviceLimit(remapped, 2000)], HamiCoreOptions(), settings(tmp_path),
        with_library=False,
    )  # fmt: skip
    assert result.env["ASCEND_VISIBLE_DEVICES"] == "5"
    assert result.env["NPU_GLOBAL_SHM_PATH"] == "/hami-shared-region/5_global_registry"


def test_ascend_template_is_a_hard_split(tmp_path: Path) -> None:
    card = cards("ascend910bx8")[3]
    options = HamiCoreOptions(vnpu_template="vir05_1c_16g")
    result = build_vendor_edits(
        "ascend", CLAIM_UID, [DeviceLimit(card, 16384, 25)], options, settings(tmp_path), with_library=True
    )
    # allocate.go: outside hami-core mode only ASCEND_VNPU_SPECS=<template> is added.
    assert result.env == {"ASCEND_VISIBLE_DEVICES": "3", "ASCEND_VNPU_SPECS": "vir05_1c_16g"}
    with pytest.raises(InterceptionError, match=r"vir03_1c_8g.*offered by Ascend910B2, not by device npu-3"):
        build_vendor_edits(
            "ascend", CLAIM_UID, [DeviceLimit(card, 8192)], HamiCoreOptions(vnpu_template="vir03_1c_8g"),
            settings(tmp_path), with_library=False,
        )  # fmt: skip


def test_ascend_refuses_unequal_quotas(tmp_path: Path) -> None:
    a, b = cards("ascend910bx8")[:2]
    with pytest.raises(InterceptionError, match=r"one memory quota per claim.*\[2000, 4000\]"):
        build_vendor_edits(
            "ascend", CLAIM_UID, [DeviceLimit(a, 2000), DeviceLimit(b, 4000)], HamiCoreOptions(),
            settings(tmp_path), with_library=False,
        )  # fmt: skip


# ---- Cambricon: cambricon-k8s-device-plugin v1.3.6 pkg/mlu/server.go (mlu-share) --------------------


def test_cambricon_share_gets_the_env_split(tmp_path: Path) -> None:
    card = cards("mlu370x4")[1]
    result = build_vendor_edits(
        "cambricon", CLAIM_UID, [DeviceLimit(card, 9830)], HamiCoreOptions(), settings(tmp_path),
        with_library=True,
    )  # fmt: skip
    # allocateMLUShare: CAMBRICON_SPLIT_ENABLE "1", CAMBRICON_SPLIT_VISIBLE_DEVICES "<index>",
    # CAMBRICON_SPLIT_MEMS = number of mlu-mem units, one per 1024 MiB (cambricon.go: mem / 1024).
    assert result.env == {
        "CAMBRICON_VISIBLE_DEVICES": "1",
        "CAMBRICON_SPLIT_ENABLE": "1",
        "CAMBRICON_SPLIT_VISIBLE_DEVICES": "1",
        "CAMBRICON_SPLIT_MEMS": "9",
    }
    # PrepareResponse (mlu-share): /usr/bin/smlu-containerd read-only and the /dev/cambricon-split node.
    assert [(m.host_path, m.container_path) for m in result.edits.mounts] == [
        ("/usr/bin/smlu-containerd", "/usr/bin/smlu-containerd")
    ]
    assert nodes(result.edits, tmp_path) == [
        ("/dev/cambricon-split", str(tmp_path / "dev" / "cambricon-split"), "rw")
    ]


def test_cambricon_cores_limit_is_logged_as_not_enforced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    card = cards("mlu370x4")[0]
    with caplog.at_level("WARNING", logger="hdra.interception"):
        result = build_vendor_edits(
            "cambricon", CLAIM_UID, [DeviceLimit(card, 9830, 10)], HamiCoreOptions(), settings(tmp_path),
            with_library=False,
        )  # fmt: skip
    assert result.env["CAMBRICON_SPLIT_MEMS"] == "9"
    assert not any("CORE" in key for key in result.env)
    assert f"claim={CLAIM_UID} device=mlu-0 cores=10%: not enforced" in caplog.text


def test_cambricon_split_limits_one_card_per_claim(tmp_path: Path) -> None:
    first, second = cards("mlu370x4")[:2]
    with pytest.raises(
        InterceptionError, match=r"memory split limits one MLU per container, the claim has 2"
    ):
        build_vendor_edits(
            "cambricon", CLAIM_UID, [DeviceLimit(first, 9830), DeviceLimit(second)], HamiCoreOptions(),
            settings(tmp_path), with_library=False,
        )  # fmt: skip


# ---- all vendors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "vendor", "visible"),
    [("ascend910bx8", "ascend", ["ASCEND_VISIBLE_DEVICES"]),
     ("mlu370x4", "cambricon", ["CAMBRICON_VISIBLE_DEVICES"]),
     ("dcuz100x4", "hygon", []),
     ("mi300x8", "amd", ["ROCR_VISIBLE_DEVICES"])],
)  # fmt: skip
def test_whole_cards_get_only_visibility(
    tmp_path: Path, profile: str, vendor: str, visible: list[str]
) -> None:
    limits = [DeviceLimit(card) for card in cards(profile)[:2]]
    result = build_vendor_edits(
        vendor, CLAIM_UID, limits, HamiCoreOptions(), settings(tmp_path), with_library=True
    )
    assert not result.intercepted
    assert list(result.env) == visible
    assert result.files == {}
    assert result.units == ()
    assert all(m.container_path == "/opt/hyhal" for m in result.edits.mounts)


def test_a_mix_of_vendors_is_refused(tmp_path: Path) -> None:
    limits = [DeviceLimit(cards("mi300x8")[0], 100), DeviceLimit(cards("a100x4")[0], 100)]
    with pytest.raises(InterceptionError, match=r"one vendor, not gpu-0 \(amd\), gpu-0 \(nvidia\)"):
        build_vendor_edits(
            "amd", CLAIM_UID, limits, HamiCoreOptions(), settings(tmp_path), with_library=False
        )


def test_nvidia_like_cards_still_get_hami_core(tmp_path: Path) -> None:
    card = cards("a100x4")[0]
    result = build_vendor_edits(
        "nvidia", CLAIM_UID, [DeviceLimit(card, 3000, 50)], HamiCoreOptions(), settings(tmp_path),
        with_library=False,
    )  # fmt: skip
    assert result.env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"


def test_enforcement_none_leaves_only_visibility(tmp_path: Path) -> None:
    card = cards("mlu370x4")[1]
    result = build_vendor_edits(
        "cambricon", CLAIM_UID, [DeviceLimit(card, 1000, 10)], HamiCoreOptions(enforcement="none"),
        settings(tmp_path), with_library=False,
    )  # fmt: skip
    assert result.env == {"CAMBRICON_VISIBLE_DEVICES": "1"}
