"""End to end: a real container engine (podman 4.3 + runc) applies a spec built by hdra.

The spec comes from ``build_hami_core_edits`` (with the library) and ``CdiWriter``, is written to
``/var/run/cdi`` (the only directory podman 4.3 reads; reference/testing.md §8) and removed
afterwards, also on failure. The container must see the HAMi-core env in PCI order, the
``ld.so.preload`` file, the library (read-only) and a writable claim cache directory. Skipped,
with the reason, where it cannot run: not root, or podman, runc or /bin/busybox missing.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.cdi import (
    CdiDevice,
    CdiWriter,
    ContainerEdits,
    build_spec,
    cdi_kind,
    device_name,
    qualified_name,
)
from dra_driver.interception import (
    CONTAINER_CACHE_DIR,
    LD_SO_PRELOAD_CONTENT,
    SHARED_CACHE_FILE,
    DeviceLimit,
    HamiCoreOptions,
    InterceptionSettings,
    build_hami_core_edits,
    create_claim_cache_dir,
)
from tests.interception.cards import card
from tests.support.podman import FAKE_LIBRARY, PODMAN, SYSTEM_CDI_DIR, install_cdi_hook, missing_prerequisite

SCRIPT = r"""
env | grep -E '^(CUDA_|GPU_|NVIDIA_|LIBCUDA_)' | sort
echo "preload=$(cat /etc/ld.so.preload)"
echo "library=$(cat /usr/local/vgpu/libvgpu.so)"
( echo tamper > /usr/local/vgpu/libvgpu.so ) 2>/dev/null && echo library=writable
echo region > "$CUDA_DEVICE_MEMORY_SHARED_CACHE" && echo cache=writable
ls -d /tmp/vgpulock >/dev/null && echo lock=mounted
"""


pytestmark = pytest.mark.skipif(missing_prerequisite() is not None, reason=str(missing_prerequisite()))


@pytest.fixture
def cdi_writer() -> Iterator[CdiWriter]:
    created = not SYSTEM_CDI_DIR.exists()
    yield CdiWriter(SYSTEM_CDI_DIR)
    if created and SYSTEM_CDI_DIR.is_dir() and not any(SYSTEM_CDI_DIR.iterdir()):
        SYSTEM_CDI_DIR.rmdir()


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_podman_applies_hami_core_edits(tmp_path: Path, rootfs: Path, cdi_writer: CdiWriter) -> None:
    library_dir = tmp_path / "hdra-lib"
    library_dir.mkdir()
    (library_dir / "libvgpu.so").write_text(FAKE_LIBRARY + "\n")
    (library_dir / "ld.so.preload").write_text(LD_SO_PRELOAD_CONTENT)
    settings = InterceptionSettings(
        host_library_dir=library_dir,
        state_dir=tmp_path / "state",
        lock_dir=tmp_path / "vgpulock",
        hook_python=install_cdi_hook(library_dir),
    )
    claim_uid = str(uuid.uuid4())
    # Input order is gpu-0 first, but gpu-1 has the lower PCI address: it must be CUDA index 0.
    limits = [
        DeviceLimit(card(0, "00000000:81:00.0"), memory_mib=3000, cores_percent=30),
        DeviceLimit(card(1, "00000000:07:00.0"), memory_mib=5000, cores_percent=60),
    ]
    options = HamiCoreOptions(core_policy="force", priority="high", log_level=2)
    result = build_hami_core_edits(claim_uid, limits, options, settings, with_library=True)
    cache_dir = create_claim_cache_dir(settings, claim_uid)
    name = device_name(claim_uid, "claim")
    spec = build_spec(cdi_kind("mock"), [CdiDevice(name=name, container_edits=result.edits)])
    assert spec.cdi_version in ("0.3.0", "0.5.0")  # both readable by podman 4.3

    try:
        path = cdi_writer.write_claim_spec(claim_uid, spec)
        assert path.parent == SYSTEM_CDI_DIR
        completed = _run(
            [
                *PODMAN,
                "--device",
                qualified_name(spec.kind, name),
                "--rootfs",
                str(rootfs),
                "/bin/sh",
                "-c",
                SCRIPT,
            ]
        )
    finally:
        cdi_writer.remove_claim_spec(claim_uid, spec.kind)
    assert not cdi_writer.spec_path(claim_uid, spec.kind).exists()
    assert completed.returncode == 0, f"podman failed: {completed.stderr}"

    lines = completed.stdout.splitlines()
    seen = dict(line.split("=", 1) for line in lines if "=" in line)
    assert seen["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert seen["CUDA_DEVICE_MEMORY_LIMIT_0"] == "5000m"
    assert seen["CUDA_DEVICE_MEMORY_LIMIT_1"] == "3000m"
    assert seen["CUDA_DEVICE_SM_LIMIT_0"] == "60"
    assert seen["CUDA_DEVICE_SM_LIMIT_1"] == "30"
    assert seen["CUDA_DEVICE_MEMORY_SHARED_CACHE"] == f"{CONTAINER_CACHE_DIR}/{SHARED_CACHE_FILE}"
    assert seen["GPU_CORE_UTILIZATION_POLICY"] == "force"
    assert seen["CUDA_TASK_PRIORITY"] == "0"
    assert seen["LIBCUDA_LOG_LEVEL"] == "2"
    assert seen["NVIDIA_VISIBLE_DEVICES"] == f"{limits[1].device.uuid},{limits[0].device.uuid}"
    assert seen["preload"] == LD_SO_PRELOAD_CONTENT.strip()
    assert seen["library"] == FAKE_LIBRARY
    assert "library=writable" not in lines
    assert seen["cache"] == "writable"
    assert seen["lock"] == "mounted"
    # The region path was writable, so the createContainer hook bound the container's own region
    # directory over the read-only placeholder; podman --rm removed the container, and the poststop
    # hook released it: no region directory and no registry entry are left.
    assert sorted(p.name for p in cache_dir.iterdir()) == [".attach.lock", ".attached.json", ".unattached"]
    assert '"containers": []' in (cache_dir / ".attached.json").read_text()
    assert (library_dir / "libvgpu.so").read_text() == FAKE_LIBRARY + "\n"


def test_podman_refuses_a_removed_spec(rootfs: Path, cdi_writer: CdiWriter) -> None:
    claim_uid = str(uuid.uuid4())
    name = device_name(claim_uid, "claim")
    edits = ContainerEdits(env=("HDRA_TEST=1",))
    spec = build_spec(cdi_kind("mock"), [CdiDevice(name=name, container_edits=edits)])
    try:
        cdi_writer.write_claim_spec(claim_uid, spec)
    finally:
        assert cdi_writer.remove_claim_spec(claim_uid, spec.kind)
    device = qualified_name(spec.kind, name)
    completed = _run([*PODMAN, "--device", device, "--rootfs", str(rootfs), "/bin/sh", "-c", "true"])
    assert completed.returncode != 0
    assert f"unresolvable CDI devices {device}" in completed.stderr
