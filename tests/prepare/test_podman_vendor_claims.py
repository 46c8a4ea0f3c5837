"""End to end per non-NVIDIA vendor: the NodePreparer prepares a shared-card claim into
/var/run/cdi, podman starts busybox with the CDI ids it returned, and the container sees the
vendor's visibility and limit variables, its device nodes (fake character devices standing in for
/dev/kfd, /dev/dri/*, /dev/cambricon-split) and, for Hygon, the vDCU config at its mount path."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from dra_driver.cdi import CdiWriter
from dra_driver.interception import InterceptionSettings
from dra_driver.prepare import ClaimRef
from tests.prepare.conftest import MakeNode
from tests.support.claims import ClaimSpec, Result, create_allocated_claim
from tests.support.podman import PODMAN, SYSTEM_CDI_DIR, missing_prerequisite

pytestmark = pytest.mark.skipif(missing_prerequisite() is not None, reason=str(missing_prerequisite()))

VDEV_FILE = "/etc/vdev/docker/vdev0.conf"
SCRIPT = r"""
env | grep -E '^(ASCEND_|NPU_|CAMBRICON_|HIP_|ROCR_|HSA_|HDRA_)' | sort
if [ -n "$NPU_LOCAL_SHM_PATH" ]; then echo shm > "$NPU_LOCAL_SHM_PATH" && echo shm=writable; fi
if [ -f {vdev} ]; then cat {vdev}; fi
for node in /dev/kfd /dev/mkfd /dev/cambricon-split /dev/dri/*; do
  if [ -c "$node" ]; then echo "node $node"; fi
done
""".replace("{vdev}", VDEV_FILE)
FAKE_NODES = ("kfd", "mkfd", "cambricon-split", *(f"dri/card{i}" for i in range(8)),
              *(f"dri/renderD{128 + i}" for i in range(8)))  # fmt: skip


def fake_dev_dir(root: Path) -> Path:
    """Character devices 1:3 (what /dev/null is) under the names the vendor specs point at."""
    for name in FAKE_NODES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return root


@dataclass(frozen=True)
class VendorCase:
    """One vendor's claim: a share of ``device`` and what the container must see."""

    profile: str
    driver: str
    device: str
    memory: str
    cores: str
    env: dict[str, str]
    lines: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


CASES = [
    VendorCase(
        "ascend910bx8",
        "ascend.hdra.io",
        "npu-2",
        "2000Mi",
        "30",
        {
            "ASCEND_VISIBLE_DEVICES": "2",
            "NPU_MEM_QUOTA": "2000",
            "NPU_PRIORITY": "30",
            "NPU_GLOBAL_SHM_PATH": "/hami-shared-region/2_global_registry",
            "NPU_LOCAL_SHM_PATH": "/hami-vnpu-shmem/vnpu_local_shmem",
            "shm": "writable",
        },
        absent=("ASCEND_VNPU_SPECS",),
    ),
    VendorCase(
        "mlu370x4",
        "cambricon.hdra.io",
        "mlu-1",
        "9830Mi",
        "0",
        {
            "CAMBRICON_VISIBLE_DEVICES": "1",
            "CAMBRICON_SPLIT_ENABLE": "1",
            "CAMBRICON_SPLIT_VISIBLE_DEVICES": "1",
            "CAMBRICON_SPLIT_MEMS": "9",  # 9 units of 1024 MiB
        },
        lines=("node /dev/cambricon-split",),
    ),
    VendorCase(
        "dcuz100x4",
        "hygon.hdra.io",
        "dcu-1",
        "8Gi",
        "50",
        {},
        lines=(
            "mem: 8192 MiB",
            "cu_count: 30",
            "device_id: 0",
            "vdev_id: 0",
            "pipe_id: 0",
            "enable: 1",
            "cu_mask: 0x000000003fffffff",
            "node /dev/kfd",
            "node /dev/mkfd",
            "node /dev/dri/card1",
            "node /dev/dri/renderD129",
        ),
        absent=("HIP_VISIBLE_DEVICES",),
    ),
    VendorCase(
        "mi300x8",
        "amd.hdra.io",
        "gpu-3",
        "16Gi",
        "25",
        {
            "HIP_DEVICE_MEMORY_LIMIT": "16384m",
            "HIP_DEVICE_MEMORY_LIMIT_0": "16384m",
            "HSA_CU_MASK": "0:0-75",  # 304 CUs x 25 %
        },
        lines=("node /dev/kfd", "node /dev/dri/card3", "node /dev/dri/renderD131"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.profile for case in CASES])
def test_container_sees_the_vendor_limits_of_its_claim(
    case: VendorCase, make_node: MakeNode, rootfs: Path, tmp_path: Path
) -> None:
    node = make_node(profile=case.profile, driver=case.driver)
    interception: InterceptionSettings = dataclasses.replace(
        node.settings.interception, vdev_dir=tmp_path / "vdev", dev_dir=fake_dev_dir(tmp_path / "dev")
    )
    node.settings = dataclasses.replace(node.settings, interception=interception)
    node.cdi_dir = SYSTEM_CDI_DIR
    preparer = node.preparer()
    card = next(d for d in node.devices if d.name == case.device)
    result = Result(
        case.device,
        consumed={"memory": case.memory, "cores": case.cores, "shares": "1"},
        share_id=str(uuid.uuid4()),
        driver=case.driver,
    )
    claim = create_allocated_claim(node.kube, ClaimSpec(f"podman-{case.profile}", [result]))
    assert claim.metadata is not None and claim.metadata.uid is not None
    ref = ClaimRef(claim.metadata.uid, "default", f"podman-{case.profile}")
    kind = node.settings.cdi_kind
    try:
        devices = preparer.prepare(ref)
        ids = [cdi_id for device in devices for cdi_id in device.cdi_device_ids]
        assert ids and all(cdi_id.startswith(f"{kind}=") for cdi_id in ids)
        flags = [part for cdi_id in ids for part in ("--device", cdi_id)]
        completed = subprocess.run(
            [*PODMAN, *flags, "--rootfs", str(rootfs), "/bin/sh", "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        preparer.unprepare(ref)
    assert not CdiWriter(SYSTEM_CDI_DIR).claim_uids(kind) & {ref.uid}
    assert not (tmp_path / "vdev" / ref.uid).exists()
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    seen = dict(line.split("=", 1) for line in lines if "=" in line)
    expected = dict(case.env)
    if case.profile == "mi300x8":
        expected["ROCR_VISIBLE_DEVICES"] = str(card.extra_attributes["rocrUuid"])
    for key, value in expected.items():
        assert seen.get(key) == value, (key, completed.stdout)
    assert seen[f"HDRA_DEVICE_{case.device.upper().replace('-', '_')}"] == card.uuid
    for key in case.absent:
        assert key not in seen, completed.stdout
    for line in case.lines:
        assert line in lines, completed.stdout
    if not case.lines:
        assert not any(line.startswith("mem: ") for line in lines)
