"""End to end with podman + runc: one HAMi-core region per PID namespace for an intercepted claim.

The NodePreparer prepares a claim; containers start with the CDI ids it returned, so runc runs hdra's
CDI hooks (``dra_driver/cdihook/region.py``, copied next to the library as the chart does) and the
node plugin's metrics read what the containers wrote. Checked (DESIGN §5):

* a container gets its own region directory ``<claim dir>/<container id>/`` on the host;
* a second container in another PID namespace is refused while the first one lives, with a message
  naming the cause, and never gets a region;
* a container sharing the first one's PID namespace (``--pid container:``, a pod with
  ``shareProcessNamespace``) gets the same region directory;
* after the containers are removed (poststop) no region is left, and the next container gets a new,
  distinct directory;
* the metrics read the region file a container wrote (HAMi-core's byte layout) for the claim.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from dra_driver.interception import LD_SO_PRELOAD_CONTENT, SHARED_CACHE_FILE
from dra_driver.kube.quantity import MIB
from dra_driver.plugin.metrics import node_registry
from dra_driver.prepare import ClaimRef, DeviceCatalog
from tests.metrics.region import Proc, region_bytes
from tests.metrics.scrape import parse, value
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim
from tests.support.podman import FAKE_LIBRARY, PODMAN, SYSTEM_CDI_DIR, install_cdi_hook, missing_prerequisite

WAIT_SECONDS = 60.0


@pytest.fixture(autouse=True)
def _prerequisites() -> None:
    reason = missing_prerequisite()
    if reason is not None:  # CI installs them (.ci/run): a missing one is a failure, never a skip
        pytest.fail(f"the podman region test cannot run: {reason}")


@pytest.fixture
def started() -> Iterator[list[str]]:
    """Container ids to remove (with their poststop hooks) at the end, also on failure."""
    ids: list[str] = []
    yield ids
    if ids:
        _remove(ids)


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    """podman with the global flags of ``PODMAN`` (runtime, cgroup manager) and ``args``."""
    command = [*PODMAN[: PODMAN.index("run")], *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _remove(ids: list[str]) -> None:
    """Remove the containers, the last started first (a container sharing another's PID namespace
    depends on it), each with its own podman call; the list is emptied."""
    while ids:
        removed = _podman("rm", "-f", "-t", "0", ids[-1])
        assert removed.returncode == 0, removed.stderr
        ids.pop()


def _wait_for(path: Path, size: int | None = None) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (path.exists() and (size is None or path.stat().st_size == size)):
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _region_dirs(claim_dir: Path) -> list[str]:
    return sorted(p.name for p in claim_dir.iterdir() if not p.name.startswith("."))


def test_each_pid_namespace_gets_its_own_region_and_a_second_one_is_refused(
    node: Node, rootfs: Path, tmp_path: Path, started: list[str]
) -> None:
    library = node.settings.interception.host_library_dir
    library.mkdir(parents=True)
    (library / "libvgpu.so").write_text(FAKE_LIBRARY + "\n")
    (library / "ld.so.preload").write_text(LD_SO_PRELOAD_CONTENT)
    interception = dataclasses.replace(node.settings.interception, hook_python=install_cdi_hook(library))
    node.settings = dataclasses.replace(node.settings, with_library=True, interception=interception)
    node.cdi_dir = SYSTEM_CDI_DIR
    preparer = node.preparer()
    card = node.devices[0]
    consumed = {"memory": "4Gi", "cores": "50", "shares": "1"}
    spec = ClaimSpec("regions", [Result(card.name, consumed=consumed, share_id=str(uuid.uuid4()))])
    claim = create_allocated_claim(node.kube, spec)
    assert claim.metadata is not None and claim.metadata.uid is not None
    ref = ClaimRef(claim.metadata.uid, "default", "regions")
    claim_dir = interception.claims_dir / ref.uid
    image = region_bytes([card.uuid], [4096 * MIB], [Proc(1, {0: 1500 * MIB}, {0: 30})])
    (tmp_path / "region").write_bytes(image)

    devices = preparer.prepare(ref)
    try:
        flags = [part for d in devices for cdi_id in d.cdi_device_ids for part in ("--device", cdi_id)]
        run = [*PODMAN[PODMAN.index("run") :], *flags, "-v", f"{tmp_path / 'region'}:/src/region:ro"]
        writer = 'cat /src/region > "$CUDA_DEVICE_MEMORY_SHARED_CACHE" && exec sleep 600'

        first = _podman(*run, "-d", "--rootfs", str(rootfs), "/bin/sh", "-c", writer)
        assert first.returncode == 0, first.stderr
        first_id = first.stdout.strip()
        started.append(first_id)
        _wait_for(claim_dir / first_id / SHARED_CACHE_FILE, len(image))
        assert _region_dirs(claim_dir) == [first_id]

        refused = _podman(*run, "--rootfs", str(rootfs), "/bin/sh", "-c", "echo started")
        assert refused.returncode != 0
        assert "started" not in refused.stdout
        assert f"is in use by container {first_id[:12]} in another PID namespace" in refused.stderr
        assert _region_dirs(claim_dir) == [first_id]

        sharing = _podman(
            *run, "-d", "--pid", f"container:{first_id}", "--rootfs", str(rootfs),
            "/bin/sh", "-c", "echo same > /usr/local/vgpu/claim/joined && exec sleep 600",
        )  # fmt: skip
        assert sharing.returncode == 0, sharing.stderr
        started.append(sharing.stdout.strip())
        _wait_for(claim_dir / first_id / "joined")
        assert _region_dirs(claim_dir) == [first_id]

        registry, _ = node_registry(
            preparer.checkpoint,
            lambda: DeviceCatalog.from_slices(node.devices, node.publisher.published_slices),
            node.settings,
            lambda: node.devices,
        )
        series = parse(generate_latest(registry).decode())
        assert (
            value(series, "hami_vgpu_memory_used_bytes", claim_uid=ref.uid, deviceuuid=card.uuid)
            == 1500 * MIB
        )
        assert value(series, "hami_vgpu_memory_limit_bytes", claim_uid=ref.uid) == 4096 * MIB
        assert value(series, "hdra_claim_shared_region_readable", claim_uid=ref.uid, region=first_id) == 1

        _remove(started)
        assert _region_dirs(claim_dir) == []  # released by the poststop hook

        later = _podman(*run, "-d", "--rootfs", str(rootfs), "/bin/sh", "-c", writer)
        assert later.returncode == 0, later.stderr
        later_id = later.stdout.strip()
        started.append(later_id)
        _wait_for(claim_dir / later_id / SHARED_CACHE_FILE, len(image))
        assert later_id != first_id
        assert _region_dirs(claim_dir) == [later_id]
    finally:
        _remove(started)
        preparer.unprepare(ref)
    assert not claim_dir.exists()
