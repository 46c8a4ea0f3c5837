"""Test support: hdra's own commands as real processes (dev cluster, node plugin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HDRA = [sys.executable, "-m", "dra_driver.cli.main"]


class Process:
    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._file = log.open("a")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self._file,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        finally:
            self._file.close()
        return code


def start_devcluster(tmp_path: Path, *extra: str) -> tuple[Process, Path]:
    kubeconfig = tmp_path / "kubeconfig"
    process = Process(
        [*HDRA, "devcluster", "--kubeconfig", str(kubeconfig), "--nodes", "node-a", *extra],
        tmp_path / "devcluster.log",
    )
    assert process.proc.stdout is not None
    line = process.proc.stdout.readline()
    assert line.startswith("ready http://127.0.0.1:"), (line, process.log.read_text())
    return process, kubeconfig


def plugin_dirs(tmp_path: Path) -> list[str]:
    """Every host path of the plugin under tmp_path: tests never touch the real kubelet dirs."""
    return [
        "--plugin-dir",
        str(tmp_path / "plugins" / "mock.hdra.io"),
        "--registry-dir",
        str(tmp_path / "plugins_registry"),
        "--cdi-dir",
        str(tmp_path / "cdi"),
        "--state-dir",
        str(tmp_path / "state"),
        "--library-dir",
        str(tmp_path / "lib"),
        "--lock-dir",
        str(tmp_path / "vgpulock"),
    ]


def start_plugin(tmp_path: Path, kubeconfig: Path, *extra: str, env: dict[str, str] | None = None) -> Process:
    return Process(
        [
            *HDRA,
            "kubelet-plugin",
            "--kubeconfig",
            str(kubeconfig),
            "--node-name",
            "node-a",
            "--backend",
            "mock",
            "--profile",
            "a100x4",
            "--resync-seconds",
            "60",
            *plugin_dirs(tmp_path),
            *extra,
        ],
        tmp_path / "plugin.log",
        env=env,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
