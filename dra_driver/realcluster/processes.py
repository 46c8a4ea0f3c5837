"""One control-plane process: started in its own process group, logged to a file, stopped for good.

Owns: the start (own session, so a signal reaches the process and anything it forks; stdout and
stderr appended to ``<name>.log``; Linux's parent-death signal set to SIGKILL, so a launcher that
is itself killed leaves no component behind), the stop (SIGTERM to the group, a grace period, then
SIGKILL to the group, then reaping), the log tail for error messages, and ``free_port``. It must
never know what the process is; ``cluster`` decides the command lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 10.0
_TAIL_LINES = 12


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the launcher's thread exits (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ManagedProcess:
    """A started component; ``stop()`` is idempotent and leaves no process of its group running."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        with log.open("ab") as sink:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec; no locks taken
            )
        self.pid = self._proc.pid

    def exit_code(self) -> int | None:
        """None while running; the exit status once it ended."""
        return self._proc.poll()

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "no log"
        kept = [line for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept) or "empty log"

    def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM the group, wait ``grace_s``, SIGKILL the group; returns the exit status."""
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
        # The leader is gone; anything it forked into its group goes too.
        self._signal_group(signal.SIGKILL)
        return self._proc.returncode

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)
