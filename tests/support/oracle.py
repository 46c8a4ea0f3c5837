"""The upstream allocator oracle (``tools/k8s/cmd/alloc-oracle``): building it and asking it.

Owns: ``oracle_binary`` (built once per content of ``tools/k8s/go.mod``, ``go.sum`` and the
command's sources, by ``dra_driver.realcluster.binary``, into the cache outside the work tree) and
``Oracle`` (one long-running process answering a batch of cases, one JSON line each). ``python -m
tests.support.oracle build`` is the Makefile's ``oracle`` step. A missing Go toolchain or a failed
build raises ``OracleUnavailable`` naming the cause: tests that need the oracle fail with it, never
skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from dra_driver.realcluster import binary
from dra_driver.realcluster.errors import RealClusterError


class OracleUnavailable(RuntimeError):
    """The oracle cannot be built or started; the message says why."""


def oracle_binary() -> Path:
    """The built oracle for the current sources; builds it (minutes the first time) when missing.

    The cache, key, lock and build command are ``dra_driver.realcluster.binary``'s, shared with the
    control plane and the Go peer driver: ``<cache>/k8s/<key>/alloc-oracle``."""
    try:
        return binary.build(command=binary.ALLOC_ORACLE).binary
    except RealClusterError as exc:
        raise OracleUnavailable(f"cannot build tools/k8s/cmd/alloc-oracle: {exc}") from None


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
