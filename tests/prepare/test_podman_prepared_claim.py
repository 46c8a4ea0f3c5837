"""End to end: the NodePreparer prepares an allocated claim, podman starts a container with the CDI
ids it returned, and the container sees the limits, the preload file and the library."""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from pathlib import Path

import pytest

from dra_driver.cdi import CdiWriter
from dra_driver.interception import LD_SO_PRELOAD_CONTENT
from dra_driver.prepare import ClaimRef
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim
from tests.support.podman import FAKE_LIBRARY, PODMAN, SYSTEM_CDI_DIR, install_cdi_hook, missing_prerequisite

pytestmark = pytest.mark.skipif(missing_prerequisite() is not None, reason=str(missing_prerequisite()))

SCRIPT = r"""
env | grep -E '^(CUDA_|NVIDIA_|HDRA_)' | sort
echo "preload=$(cat /etc/ld.so.preload)"
echo "library=$(cat /usr/local/vgpu/libvgpu.so)"
echo region > "$CUDA_DEVICE_MEMORY_SHARED_CACHE" && echo cache=writable
"""


def test_container_started_with_the_returned_cdi_ids_sees_the_claims_limits(
    node: Node, rootfs: Path, tmp_path: Path
) -> None:
    library = node.settings.interception.host_library_dir
    library.mkdir(parents=True)
    (library / "libvgpu.so").write_text(FAKE_LIBRARY + "\n")
    (library / "ld.so.preload").write_text(LD_SO_PRELOAD_CONTENT)
    interception = dataclasses.replace(node.settings.interception, hook_python=install_cdi_hook(library))
    node.settings = dataclasses.replace(node.settings, with_library=True, interception=interception)
    node.cdi_dir = SYSTEM_CDI_DIR
    preparer = node.preparer()
    by_bus = sorted(node.devices, key=lambda d: d.pci_bus_id or "")
    spec = ClaimSpec(
        "podman",
        [
            Result(
                by_bus[-1].name,
                consumed={"memory": "8Gi", "cores": "30", "shares": "1"},
                share_id=str(uuid.uuid4()),
            ),
            Result(
                by_bus[0].name,
                consumed={"memory": "3000Mi", "cores": "50", "shares": "1"},
                share_id=str(uuid.uuid4()),
            ),
        ],
    )
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    ref = ClaimRef(claim.metadata.uid, "default", "podman")
    try:
        devices = preparer.prepare(ref)
        ids = [cdi_id for device in devices for cdi_id in device.cdi_device_ids]
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
    assert not CdiWriter(SYSTEM_CDI_DIR).claim_uids("hdra.io/mock") & {ref.uid}
    assert completed.returncode == 0, completed.stderr
    seen = dict(line.split("=", 1) for line in completed.stdout.splitlines() if "=" in line)
    assert seen["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert seen["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"  # lowest PCI bus id first
    assert seen["CUDA_DEVICE_SM_LIMIT_0"] == "50"
    assert seen["CUDA_DEVICE_MEMORY_LIMIT_1"] == "8192m"
    assert seen["CUDA_DEVICE_SM_LIMIT_1"] == "30"
    assert seen["NVIDIA_VISIBLE_DEVICES"] == f"{by_bus[0].uuid},{by_bus[-1].uuid}"
    assert seen[f"HDRA_DEVICE_{by_bus[0].name.upper().replace('-', '_')}"] == by_bus[0].uuid
    assert seen["preload"] == LD_SO_PRELOAD_CONTENT.strip()
    assert seen["library"] == FAKE_LIBRARY
    assert seen["cache"] == "writable"
