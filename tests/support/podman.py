"""Test support: podman 4.3 + runc + busybox consuming CDI specs (reference/testing.md section 8)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from dra_driver.cdihook import region as region_hook
from dra_driver.interception.settings import HOST_HOOK_NAME

SYSTEM_CDI_DIR = Path("/var/run/cdi")
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "env", "cat", "ls", "grep", "sort", "sleep")
FAKE_LIBRARY = "fake-hami-core-library"

# Every flag is needed with podman 4.3 on this kind of host (reference/testing.md §8); --rootfs is a
# boolean there, so the rootfs path is the positional image argument and must come after the flags.
PODMAN = (
    "podman",
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "run",
    "--rm",
    "--network",
    "none",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=4096:4096",
)


def install_cdi_hook(library_dir: Path) -> Path:
    """Do what the chart's init container does: copy hdra's CDI hook next to the library.

    Returns the Python the hook runs with (``InterceptionSettings.hook_python``): this test's own,
    started with ``-I -S`` like the host's would be, so nothing of the virtual environment is used.
    """
    library_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(region_hook.__file__, library_dir / HOST_HOOK_NAME)
    return Path(sys.executable)


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root: podman 4.3 reads CDI specs only from /etc/cdi and /var/run/cdi"
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc busybox-static)"
    if not BUSYBOX.is_file():
        return f"{BUSYBOX} is missing (apt-get install busybox-static)"
    return None


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    for sub in ("bin", "etc", "tmp", "proc", "sys", "dev"):
        (root / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    return root
