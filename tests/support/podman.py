"""Test support: podman 4.3 + runc + busybox consuming CDI specs (reference/testing.md section 8)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SYSTEM_CDI_DIR = Path("/var/run/cdi")
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "env", "cat", "ls", "grep", "sort")
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
