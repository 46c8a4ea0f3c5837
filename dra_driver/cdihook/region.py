"""hdra's CDI hook: one HAMi-core region per PID namespace, one PID namespace per claim at a time.

Run by the container runtime, never by hdra itself (DESIGN §5)::

    <python> -I -S <this file> attach  --claim-dir <host claim dir> --container-path <dir in container>
    <python> -I -S <this file> release --claim-dir <host claim dir>

with the OCI state (``id``, ``bundle``; runtime-spec ``runtime.md``) on stdin. ``attach`` is the
claim's ``createContainer`` hook: the runtime runs it inside the new container's PID and mount
namespaces, before ``pivot_root``, with the host's ``/proc`` still mounted. It

1. takes ``<claim dir>/.attach.lock`` (``flock``), loads the attachment registry
   ``<claim dir>/.attached.json`` and drops every entry whose process has exited (and the region
   directory no live entry uses);
2. refuses the container (exit 1, one line on stderr) when a live entry is in another PID namespace:
   HAMi-core keys its process slots by PIDs of its own namespace and erases slots whose PID it
   cannot see, so two namespaces on one region undo each other's accounting, and two regions would
   each grant the claim's whole limit;
3. otherwise gives the container the region directory of a live entry in its own PID namespace
   (``shareProcessNamespace``, ``hostPID``) or a new ``<claim dir>/<container id>/`` (mode 0777:
   HAMi-core creates its file as the container's user), records the container's init process (host
   PID, start time, PID namespace) and bind-mounts that directory (``nosuid,nodev``) over
   ``<rootfs>/<container path>``, a read-only empty placeholder the CDI spec mounted there, so a
   container whose hook never ran cannot write a region at all.

``release`` is the claim's ``poststop`` hook (runtime namespace): it drops the container's entry and
deletes its region directory when no live entry shares it. The node plugin reads every
``<claim dir>/<dir>/vgpu.cache`` and sums them per claim.

Contract: stdlib only, Python 3.8 syntax (it runs on the host's interpreter from a lone copy of this
file); never follow a symlink in the container's rootfs or in the claim directory; every failure is
one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import IO, Any, Dict, Sequence

ATTACH = "attach"
RELEASE = "release"
HOOK_OF = {ATTACH: "createContainer", RELEASE: "poststop"}
"""Which OCI hook each command is (CDI ``hookName``)."""

REGISTRY_FILE = ".attached.json"
LOCK_FILE = ".attach.lock"
UNATTACHED_DIR = ".unattached"
"""The empty read-only directory the CDI spec mounts at the container path before the hook runs."""

REGION_DIR_MODE = 0o777
PLACEHOLDER_MODE = 0o555
REGISTRY_VERSION = 1
HOOK_TIMEOUT_SECONDS = 30
"""The CDI ``timeout`` of both hooks: the lock is held for milliseconds; this only bounds a hang."""

_CONTAINER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}")
_PROC = Path("/proc")

# mount(2) flags (linux/mount.h).
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096


class HookError(Exception):
    """Why the hook refuses or fails; the message is the hook's one line on stderr."""


Entry = Dict[str, Any]


def hook_args(python: str, script: str, command: str, claim_dir: str, container_path: str) -> list[str]:
    """The OCI ``args`` (argv, argv[0] included) that run ``command`` of this file for one claim."""
    args = [python, "-I", "-S", script, command, "--claim-dir", claim_dir]
    if command == ATTACH:
        args += ["--container-path", container_path]
    return args


def read_state(stream: IO[str]) -> tuple[str, str | None]:
    """The container id and bundle path from the OCI state on ``stream``."""
    try:
        state = json.load(stream)
    except ValueError as exc:
        raise HookError(f"the OCI state on stdin is not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise HookError("the OCI state on stdin is not a JSON object")
    container_id = state.get("id")
    if not isinstance(container_id, str) or not _CONTAINER_ID.fullmatch(container_id):
        raise HookError(f"the OCI state has no usable container id: {container_id!r}")
    bundle = state.get("bundle")
    if bundle is not None and (not isinstance(bundle, str) or not bundle.startswith("/")):
        raise HookError(f"the OCI state's bundle {bundle!r} is not an absolute path")
    return container_id, bundle


def container_rootfs(bundle: str) -> Path:
    """``root.path`` of ``<bundle>/config.json``, relative to the bundle (runtime-spec config.md)."""
    config_path = Path(bundle) / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise HookError(f"cannot read the container's OCI config {config_path}: {exc}") from None
    root = config.get("root") if isinstance(config, dict) else None
    path = root.get("path") if isinstance(root, dict) else None
    if not isinstance(path, str) or not path:
        raise HookError(f"{config_path} has no root.path")
    return Path(bundle) / path  # an absolute root.path replaces the bundle prefix


def _stat(pid: int | str, proc: Path) -> tuple[int, int, str] | None:
    """(ppid, start time in ticks, state letter) of ``pid`` from ``/proc/<pid>/stat``; None if gone."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    return int(fields[1]), int(fields[19]), fields[0]


def _pidns(pid: str, proc: Path) -> str:
    return os.readlink(str(proc / pid / "ns" / "pid"))


def _identity(proc: Path) -> Entry:
    """The process that will run the container (the hook's parent): host PID, start time, PID namespace."""
    me = _stat("self", proc)  # never os.getpid(): that is a PID of the container's namespace
    if me is None:
        raise HookError(f"cannot read {proc}/self/stat")
    parent = _stat(me[0], proc)
    if parent is None:
        raise HookError(f"the container's init process {me[0]} is gone")
    return {"pid": me[0], "start": parent[1], "pidns": _pidns("self", proc)}


def _alive(entry: Entry, proc: Path) -> bool:
    stat = _stat(int(entry.get("pid", 0)), proc)
    return stat is not None and stat[1] == entry.get("start") and stat[2] not in ("Z", "X")


def _load(claim_dir: Path) -> list[Entry]:
    path = claim_dir / REGISTRY_FILE
    try:
        registry = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise HookError(f"the attachment registry {path} is unreadable: {exc}") from None
    if not isinstance(registry, dict) or registry.get("version") != REGISTRY_VERSION:
        raise HookError(f"the attachment registry {path} has an unknown format")
    entries = registry.get("containers")
    if not isinstance(entries, list):
        raise HookError(f"the attachment registry {path} has an unknown format")
    for entry in entries:
        if not isinstance(entry, dict) or not _CONTAINER_ID.fullmatch(str(entry.get("region", ""))):
            raise HookError(f"the attachment registry {path} has a malformed entry {entry!r}")
    return entries


def _save(claim_dir: Path, entries: list[Entry]) -> None:
    path = claim_dir / REGISTRY_FILE
    temporary = claim_dir / (REGISTRY_FILE + ".tmp")
    temporary.write_text(json.dumps({"version": REGISTRY_VERSION, "containers": entries}, sort_keys=True))
    os.chmod(str(temporary), 0o644)
    os.replace(str(temporary), str(path))


def _remove_region(path: Path) -> None:
    """Delete one region directory (a symlink or file in its place is unlinked, never followed)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(str(path))


def _remove_regions(claim_dir: Path, dropped: Sequence[Entry], kept: Sequence[Entry]) -> None:
    """Delete the region directories of ``dropped`` entries that no ``kept`` entry uses."""
    used = {entry["region"] for entry in kept}
    for region in sorted({entry["region"] for entry in dropped} - used):
        _remove_region(claim_dir / region)


def _open_beneath(root: Path, relative: str) -> int:
    """An O_PATH fd of ``root/relative``, refusing a symlink in any component below ``root``."""
    fd = os.open(str(root), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in [p for p in relative.split("/") if p]:
            if part in (".", ".."):
                raise HookError(f"container path {relative!r} has a {part!r} component")
            try:
                child = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise HookError(
                    f"{root}/{relative.strip('/')}: not a directory in the container "
                    f"(symlinks are refused): {exc.strerror}"
                ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def bind_mount(source: Path, rootfs: Path, container_path: str) -> None:
    """Bind ``source`` over ``rootfs/container_path`` with nosuid,nodev (in this mount namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src: int, dst: int, flags: int) -> None:
        paths = (f"/proc/self/fd/{src}".encode(), f"/proc/self/fd/{dst}".encode())
        if libc.mount(paths[0], paths[1], None, ctypes.c_ulong(flags), None) != 0:
            reason = os.strerror(ctypes.get_errno())
            raise HookError(f"cannot bind {source} at {rootfs}{container_path}: {reason}")

    source_fd = _open_beneath(source, "")
    try:
        target_fd = _open_beneath(rootfs, container_path)
        try:
            mount(source_fd, target_fd, _MS_BIND)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)
    # The fd opened before the bind names the covered directory; the remount needs the new mount.
    target_fd = _open_beneath(rootfs, container_path)
    try:
        mount(target_fd, target_fd, _MS_BIND | _MS_REMOUNT | _MS_NOSUID | _MS_NODEV)
    finally:
        os.close(target_fd)


class _Locked:
    """``flock`` on the claim's lock file for the duration of one attach or release."""

    def __init__(self, claim_dir: Path) -> None:
        self._path = claim_dir / LOCK_FILE
        self._fd = -1

    def __enter__(self) -> _Locked:
        self._fd = os.open(str(self._path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


def _claim_dir(path: str) -> Path:
    claim_dir = Path(path)
    if not claim_dir.is_absolute() or not claim_dir.is_dir() or claim_dir.is_symlink():
        raise HookError(f"claim directory {claim_dir} does not exist (is the claim prepared on this node?)")
    return claim_dir


def attach(claim_dir: Path, container_path: str, container_id: str, rootfs: Path, proc: Path = _PROC) -> Path:
    """Register the container and mount its region directory; returns that directory. See the module doc."""
    me = _identity(proc)
    me["id"] = container_id
    with _Locked(claim_dir):
        entries = _load(claim_dir)
        live = [e for e in entries if _alive(e, proc) and e.get("id") != container_id]
        _remove_regions(claim_dir, [e for e in entries if e not in live], live)
        others = [e for e in live if e.get("pidns") != me["pidns"]]
        if others:
            holder = str(others[0].get("id"))[:12]
            raise HookError(
                f"claim {claim_dir.name} is in use by container {holder} in another PID namespace; "
                "HAMi-core enforces a claim's limits for one PID namespace at a time: run its containers "
                "one after another, give each its own claim, or share the pod's process namespace "
                "(shareProcessNamespace: true) (DESIGN §5)"
            )
        region = live[0]["region"] if live else container_id
        region_dir = claim_dir / region
        if not live:
            _remove_region(region_dir)  # a stale directory of a container id seen before
            region_dir.mkdir()
            os.chmod(str(region_dir), REGION_DIR_MODE)
        me["region"] = region
        _save(claim_dir, [*live, me])
        try:
            bind_mount(region_dir, rootfs, container_path)
        except BaseException:
            _save(claim_dir, live)
            if not live:
                _remove_region(region_dir)
            raise
    return region_dir


def release(claim_dir: Path, container_id: str, proc: Path = _PROC) -> None:
    """Drop the container's entry and every exited one, and the region directories nobody uses."""
    with _Locked(claim_dir):
        entries = _load(claim_dir)
        live = [e for e in entries if e.get("id") != container_id and _alive(e, proc)]
        _remove_regions(claim_dir, [e for e in entries if e not in live], live)
        _save(claim_dir, live)


def _option(argv: list[str], name: str) -> str:
    try:
        value = argv[argv.index(name) + 1]
    except (ValueError, IndexError):
        raise HookError(f"missing {name}") from None
    return value


def main(argv: list[str] | None = None, stdin: IO[str] | None = None) -> int:
    """Entry point; returns the exit status (0, or 1 after one line on stderr)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or args[0] not in HOOK_OF:
            raise HookError("usage: {attach|release} --claim-dir DIR [--container-path PATH]")
        container_id, bundle = read_state(sys.stdin if stdin is None else stdin)
        if args[0] == RELEASE:
            try:
                claim_dir = _claim_dir(_option(args, "--claim-dir"))
            except HookError:
                return 0  # the claim was unprepared already: nothing is left to release
            release(claim_dir, container_id)
            return 0
        claim_dir = _claim_dir(_option(args, "--claim-dir"))
        container_path = _option(args, "--container-path")
        if not container_path.startswith("/"):
            raise HookError(f"--container-path {container_path!r} is not absolute")
        if bundle is None:
            raise HookError("the OCI state has no bundle")
        attach(claim_dir, container_path, container_id, container_rootfs(bundle))
        return 0
    except HookError as exc:
        sys.stderr.write(f"hdra-cdi-hook: {exc}\n")
        return 1
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        sys.stderr.write(f"hdra-cdi-hook: {exc} ({code})\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
