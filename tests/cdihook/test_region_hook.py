"""hdra's CDI hook (``dra_driver/cdihook/region.py``) without a container runtime.

Each "container" is ``unshare --pid --fork --mount``: the hook runs in a new PID and mount namespace
with the host's ``/proc`` still mounted, as runc runs createContainer hooks before ``pivot_root``
(runtime-spec ``config.md``, "createContainer Hooks"), and the process then stays alive as the
container's init would. This is also how a machine without a runtime simulates the hook (DESIGN §5).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dra_driver.cdihook import region as hook

HOOK = Path(hook.__file__)
CONTAINER_PATH = "/usr/local/vgpu/claim"


@pytest.fixture(autouse=True)
def _root_and_unshare() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:  # CI runs as root with util-linux
        pytest.fail("the hook tests need root and unshare(1): they create PID and mount namespaces")


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.claim = root / "claims" / "3f0c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
        (self.claim / hook.UNATTACHED_DIR).mkdir(parents=True)
        self.bundle = root / "bundle"
        self.rootfs = root / "rootfs"
        (self.rootfs / CONTAINER_PATH.strip("/")).mkdir(parents=True)
        self.bundle.mkdir()
        (self.bundle / "config.json").write_text(json.dumps({"root": {"path": "../rootfs"}}))
        self.running: list[subprocess.Popen[str]] = []

    def state(self, container_id: str) -> str:
        return json.dumps({"ociVersion": "1.0.2", "id": container_id, "pid": 1, "bundle": str(self.bundle)})

    def line(self, action: str, container_id: str) -> str:
        """The shell line a runtime's hook call amounts to: the state on stdin, the CDI spec's args."""
        argv = hook.hook_args(sys.executable, str(HOOK), action, str(self.claim), CONTAINER_PATH)
        return f"echo '{self.state(container_id)}' | " + " ".join(f"'{a}'" for a in argv)

    def command(self, action: str, container_id: str, then: str = "true") -> list[str]:
        script = f"{self.line(action, container_id)} && {then}"
        # --kill-child: killing unshare kills the namespace's init, as a container's end would.
        return ["unshare", "--pid", "--fork", "--kill-child", "--mount", "sh", "-c", script]

    def run(self, action: str, container_id: str, then: str = "true") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(action, container_id, then), capture_output=True, text=True, timeout=60, check=False
        )

    def start(self, container_id: str, then: str = "exec sleep 600") -> None:
        """A long-lived container: attached, then alive until ``stop_all``."""
        process = subprocess.Popen(self.command(hook.ATTACH, container_id, then), text=True)
        self.running.append(process)
        deadline = time.monotonic() + 30
        while container_id not in self.attached():
            assert process.poll() is None, f"container {container_id} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"container {container_id} never attached"
            time.sleep(0.02)

    def attached(self) -> list[str]:
        path = self.claim / hook.REGISTRY_FILE
        if not path.exists():
            return []
        return [entry["id"] for entry in json.loads(path.read_text())["containers"]]

    def regions(self) -> list[str]:
        return sorted(p.name for p in self.claim.iterdir() if not p.name.startswith("."))

    def stop_all(self) -> None:
        """Kill every started container and wait until its recorded init process is gone."""
        pids = []
        if (self.claim / hook.REGISTRY_FILE).exists():
            pids = [
                entry["pid"]
                for entry in json.loads((self.claim / hook.REGISTRY_FILE).read_text())["containers"]
            ]
        for process in self.running:
            process.kill()
            process.wait(timeout=30)
        self.running.clear()
        deadline = time.monotonic() + 30
        for pid in pids:
            while _running(pid):
                assert time.monotonic() < deadline, f"process {pid} outlived its namespace"
                time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.stop_all()


def test_the_hook_file_parses_as_python_3_8() -> None:
    # The hook runs on the host's own interpreter from a lone copy of the file.
    ast.parse(HOOK.read_text(), feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(HOOK.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_a_container_gets_its_own_region_directory_mounted_at_the_container_path(box: Sandbox) -> None:
    # The container writes through the container path; the file lands in <claim>/<container id>/.
    completed = box.run(hook.ATTACH, "ctr-a", f"echo a > {box.rootfs}{CONTAINER_PATH}/vgpu.cache")
    assert completed.returncode == 0, completed.stderr
    assert (box.claim / "ctr-a" / "vgpu.cache").read_text() == "a\n"
    assert oct((box.claim / "ctr-a").stat().st_mode & 0o777) == oct(hook.REGION_DIR_MODE)
    assert not any((box.rootfs / CONTAINER_PATH.strip("/")).iterdir())  # the host's view is untouched


def test_a_second_pid_namespace_is_refused_while_the_first_lives(box: Sandbox) -> None:
    box.start("ctr-a")
    refused = box.run(hook.ATTACH, "ctr-b", "echo started")
    assert refused.returncode == 1
    assert "started" not in refused.stdout
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "is in use by container ctr-a in another PID namespace" in refused.stderr
    assert "shareProcessNamespace" in refused.stderr
    assert box.attached() == ["ctr-a"]
    assert box.regions() == ["ctr-a"]

    box.stop_all()  # the first container exits without a release (killed): its entry is stale
    later = box.run(hook.ATTACH, "ctr-c")
    assert later.returncode == 0, later.stderr
    assert box.regions() == ["ctr-c"]  # the dead container's region went with its entry


def test_containers_of_one_pid_namespace_share_one_region(box: Sandbox) -> None:
    # Two more attaches inside the first container's namespace: a pod with shareProcessNamespace.
    both = f"{box.line(hook.ATTACH, 'ctr-a')} && {box.line(hook.ATTACH, 'ctr-b')}"
    box.start("keeper", f"{both} && exec sleep 600")
    deadline = time.monotonic() + 30
    while box.attached() != ["keeper", "ctr-a", "ctr-b"]:
        assert time.monotonic() < deadline, box.attached()
        time.sleep(0.02)
    assert box.regions() == ["keeper"]


def test_release_drops_the_entry_and_its_region(box: Sandbox) -> None:
    box.start("ctr-a")
    released = box.run(hook.RELEASE, "ctr-a")
    assert released.returncode == 0, released.stderr
    assert box.attached() == []
    assert box.regions() == []
    box.stop_all()
    shutil.rmtree(box.claim)  # unprepared: a late poststop hook has nothing to do and succeeds
    assert box.run(hook.RELEASE, "ctr-a").returncode == 0


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("not json", "the OCI state on stdin is not JSON"),
        ('{"id": "../x", "bundle": "/b"}', "no usable container id"),
        ('{"bundle": "/b"}', "no usable container id"),
        ('{"id": "c", "bundle": "relative"}', "is not an absolute path"),
        ('{"id": "c"}', "the OCI state has no bundle"),
        ('{"id": "c", "bundle": "/nonexistent-bundle"}', "cannot read the container's OCI config"),
    ],
)
def test_bad_state_is_one_line_and_exit_1(box: Sandbox, stdin: str, message: str) -> None:
    argv = hook.hook_args(sys.executable, str(HOOK), hook.ATTACH, str(box.claim), CONTAINER_PATH)
    completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 1
    assert completed.stderr.startswith("hdra-cdi-hook: ") and message in completed.stderr
    assert completed.stderr.count("\n") == 1
    assert box.regions() == []


def test_a_symlink_in_the_container_path_is_refused(box: Sandbox, tmp_path: Path) -> None:
    # An image whose /usr/local/vgpu is a symlink must not redirect the bind mount to a host path.
    shutil.rmtree(box.rootfs / "usr" / "local" / "vgpu")
    (tmp_path / "elsewhere" / "claim").mkdir(parents=True)
    (box.rootfs / "usr" / "local" / "vgpu").symlink_to(tmp_path / "elsewhere")
    completed = box.run(hook.ATTACH, "ctr-a")
    assert completed.returncode == 1
    assert "symlinks are refused" in completed.stderr
    assert box.attached() == [] and box.regions() == []


def test_a_missing_claim_directory_and_a_corrupt_registry_are_named(box: Sandbox) -> None:
    (box.claim / hook.REGISTRY_FILE).write_text("{")
    corrupt = box.run(hook.ATTACH, "ctr-a")
    assert (
        corrupt.returncode == 1 and "attachment registry" in corrupt.stderr and "unreadable" in corrupt.stderr
    )
    shutil.rmtree(box.claim)
    missing = box.run(hook.ATTACH, "ctr-a")
    assert missing.returncode == 1 and "is the claim prepared on this node?" in missing.stderr
