"""The upstream allocator oracle (``tools/k8s/cmd/alloc-oracle``): building it and asking it.

Owns: ``oracle_binary`` (build once per content of ``tools/k8s/go.mod``, ``go.sum`` and the
command's sources into a cache outside the work tree, under a file lock) and ``Oracle`` (one
long-running process answering a batch of cases, one JSON line each). ``python -m
tests.support.oracle build`` is the Makefile's ``oracle`` step. A missing Go toolchain or a failed
build raises ``OracleUnavailable`` naming the cause: tests that need the oracle fail with it, never
skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "tools" / "k8s"
COMMAND = MODULE / "cmd" / "alloc-oracle"
CACHE = Path(os.environ.get("HDRA_CACHE_DIR", Path.home() / ".cache" / "hdra")) / "alloc-oracle"
BUILD_TIMEOUT_S = 1800


class OracleUnavailable(RuntimeError):
    """The oracle cannot be built or started; the message says why."""


def source_key() -> str:
    """Hash of everything the binary is built from (module files and the command's sources)."""
    digest = hashlib.sha256()
    files = [MODULE / "go.mod", MODULE / "go.sum", *sorted(COMMAND.rglob("*.go"))]
    for path in files:
        if not path.is_file():
            raise OracleUnavailable(f"alloc-oracle source {path} is missing")
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def oracle_binary() -> Path:
    """The built oracle for the current sources; builds it (minutes the first time) when missing."""
    target = CACHE / source_key() / "alloc-oracle"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            _build(target)
    return target


def _build(target: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise OracleUnavailable(
            "cannot build tools/k8s/cmd/alloc-oracle: the Go toolchain ('go') is not on PATH; "
            "install Go >= 1.26 (CI: .ci/run) and run `make oracle`"
        )
    partial = target.with_suffix(".partial")
    env = {**os.environ, "CGO_ENABLED": "0"}
    try:
        done = subprocess.run(
            [go, "build", "-trimpath", "-o", str(partial), "./cmd/alloc-oracle"],
            cwd=MODULE,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OracleUnavailable(f"building alloc-oracle took longer than {BUILD_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise OracleUnavailable(f"building alloc-oracle failed (go build):\n{done.stderr.strip()[-4000:]}")
    partial.replace(target)


class Oracle:
    """One oracle process; ``ask`` sends a batch of cases and returns one answer per case, in order."""

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or oracle_binary()
        self._process = subprocess.Popen(
            [str(self.binary)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        answers = []
        stdin, stdout = self._pipes()
        for case in cases:
            stdin.write(json.dumps(case, separators=(",", ":")) + "\n")
            stdin.flush()
            line = stdout.readline()
            if not line:
                raise OracleUnavailable(f"alloc-oracle exited: {self._stderr()}")
            answer: dict[str, Any] = json.loads(line)
            if answer.get("outcome") == "invalid":
                raise OracleUnavailable(
                    f"alloc-oracle refused case {case.get('id')!r}: {answer.get('error')}"
                )
            answers.append(answer)
        return answers

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None or self._process.poll() is not None:
            raise OracleUnavailable(f"alloc-oracle is not running: {self._stderr()}")
        return stdin, stdout

    def _stderr(self) -> str:
        if self._process.poll() is None:
            return "(still running)"
        return (self._process.stderr.read() if self._process.stderr else "").strip()[-2000:]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batches(cases: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    batch: list[Mapping[str, Any]] = []
    for case in cases:
        batch.append(case)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str]) -> int:
    if argv != ["build"]:
        print("usage: python -m tests.support.oracle build", file=sys.stderr)
        return 2
    try:
        print(oracle_binary())
    except OracleUnavailable as exc:
        print(f"alloc-oracle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
