"""The Go programs of ``tools/k8s`` (the ``hdra-k8s`` control plane, the benchmark's
``peer-driver``, the simulator tests' ``alloc-oracle``): where they are cached, how they are built,
how they are found.

Owns: the cache key of a command (sha256 over ``tools/k8s``'s go.mod, go.sum and the sources of
``cmd/<command>``), the cache layout (``$HDRA_CACHE_DIR`` or ``~/.cache/hdra``, then
``k8s/<key>/<command>``), the one ``go build`` command line (CGO off, ``-trimpath``, the version
``-X`` flags, ``-mod=readonly`` so a go.mod that needs tidying fails instead of being rewritten),
and the error a caller gets when the binary is missing: it names the cause of the last failed
build (kept in ``k8s/<key>/build-error.log``) or how to build it. ``$HDRA_K8S_BINARY`` names a
prebuilt ``hdra-k8s`` and overrides the cache. It must never start a binary; ``cluster`` and the
benchmarks do. Every function takes ``command`` (default ``hdra-k8s``).

A second build with the same key is a no-op: the binary is written to a temporary name and
renamed into place only when ``go build`` succeeded, so a present binary is always complete; builds
of one key hold ``<key>/.lock`` (flock), so two processes (a test run and a benchmark) asking at once
build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dra_driver.realcluster.errors import RealClusterError

# The Kubernetes release the module pins (tools/k8s/go.mod); /version reports it via -X flags.
KUBERNETES_VERSION = "v1.36.3"
BINARY_NAME = "hdra-k8s"
PEER_DRIVER = "peer-driver"
ALLOC_ORACLE = "alloc-oracle"
COMMANDS = (BINARY_NAME, PEER_DRIVER, ALLOC_ORACLE)
BINARY_ENV = "HDRA_K8S_BINARY"
CACHE_ENV = "HDRA_CACHE_DIR"
ERROR_LOG = "build-error.log"
_ERROR_TAIL_LINES = 15


def default_module_dir() -> Path:
    """``tools/k8s`` of the checkout this package was imported from (an editable install)."""
    return Path(__file__).resolve().parents[2] / "tools" / "k8s"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hdra") / "k8s"


def package(command: str) -> str:
    return f"./cmd/{command}"


def key_files(module_dir: Path, command: str = BINARY_NAME) -> list[Path]:
    """The files whose bytes decide the binary: go.mod, go.sum and cmd/<command>/** (sorted)."""
    sources = sorted(p for p in (module_dir / package(command)).rglob("*") if p.is_file())
    return [module_dir / "go.mod", module_dir / "go.sum", *sources]


def source_key(module_dir: Path, command: str = BINARY_NAME) -> str:
    """sha256 over the relative path and content of every ``key_files`` entry."""
    digest = hashlib.sha256()
    for path in key_files(module_dir, command):
        if not path.is_file():
            raise RealClusterError(f"Go module {module_dir} has no {path.name}: not an hdra checkout")
        digest.update(str(path.relative_to(module_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class BuildResult:
    binary: Path
    built: bool  # False when the cache already held it
    seconds: float


def cached_binary(module_dir: Path, command: str = BINARY_NAME) -> Path:
    return cache_root() / source_key(module_dir, command) / command


def version_ldflags(version: str = KUBERNETES_VERSION) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    prefix = "k8s.io/component-base/version"
    return (
        f"-s -w -X {prefix}.gitVersion={version} -X {prefix}.gitMajor={major} -X {prefix}.gitMinor={minor}"
        f" -X {prefix}.gitTreeState=clean"
    )


def build(module_dir: Path | None = None, command: str = BINARY_NAME) -> BuildResult:
    """Build the binary into the cache unless it is there; RealClusterError names a failure's cause."""
    module_dir = module_dir or default_module_dir()
    target = cached_binary(module_dir, command)
    if target.is_file():
        return BuildResult(target, built=False, seconds=0.0)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # another process built it while this one waited
            return BuildResult(target, built=False, seconds=0.0)
        return _build_locked(module_dir, command, target)


def _build_locked(module_dir: Path, command: str, target: Path) -> BuildResult:
    go = shutil.which("go")
    error_log = target.parent / ERROR_LOG
    if go is None:
        message = f"the Go toolchain (go) is not on PATH; {command} is built from tools/k8s with Go >= 1.26"
        error_log.write_text(message + "\n")
        raise RealClusterError(message)
    partial = target.with_name(f".{command}.{os.getpid()}.partial")
    argv = [
        go,
        "build",
        "-mod=readonly",
        "-trimpath",
        "-ldflags",
        version_ldflags(),
        "-o",
        str(partial),
        package(command),
    ]
    started = time.monotonic()
    env = {**os.environ, "CGO_ENABLED": "0"}
    done = subprocess.run(argv, cwd=module_dir, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        output = (done.stdout + done.stderr).strip()
        error_log.write_text(f"$ {' '.join(argv)}  (in {module_dir})\n{output}\n")
        raise RealClusterError(
            f"go build of {command} failed (exit {done.returncode}, log {error_log}): {_tail(output)}"
        )
    partial.rename(target)
    error_log.unlink(missing_ok=True)
    return BuildResult(target, built=True, seconds=seconds)


def locate(module_dir: Path | None = None, command: str = BINARY_NAME) -> Path:
    """The binary to run: ``$HDRA_K8S_BINARY`` (hdra-k8s only), else the cached build of this
    checkout's sources."""
    override = os.environ.get(BINARY_ENV) if command == BINARY_NAME else None
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RealClusterError(f"${BINARY_ENV}={override} is not an executable file")
        return path
    module_dir = module_dir or default_module_dir()
    target = cached_binary(module_dir, command)
    if target.is_file():
        return target
    error_log = target.parent / ERROR_LOG
    if error_log.is_file():
        raise RealClusterError(
            f"{command} is not built: the last build failed (log {error_log}): {_tail(error_log.read_text())}"
        )
    if command != BINARY_NAME:
        raise RealClusterError(
            f"{command} for these sources (key {target.parent.name}) is not built: "
            f"run `python tools/build_k8s.py --command {command}`"
        )
    raise RealClusterError(
        f"{command} for these sources (key {target.parent.name}) is not built: run `make k8s` "
        f"(a cold build takes about half an hour on 2 cores) or set ${BINARY_ENV}"
    )


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-_ERROR_TAIL_LINES:]) or "no output"
