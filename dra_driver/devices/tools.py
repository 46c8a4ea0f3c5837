"""Running a vendor command-line tool and reading its answers, for the tool-based backends.

Owns: ``run_tool`` (one subprocess call, no shell, with a timeout), ``optional_version`` (a vendor
version string as semver, or ``None`` with a warning), ``pci_bus_id`` (a bus id in sysfs form) and
``parse_error`` (a ``BackendError`` that quotes the offending line). It must never interpret a
vendor's output format itself: each backend parses its own tool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from dra_driver.devices.base import BackendError, BackendUnavailable, Version
from dra_driver.devices.versions import normalize_version

log = logging.getLogger("hdra.devices")

TOOL_TIMEOUT_SECONDS = 30.0
"""A vendor tool that has not answered within this long is hung (a wedged driver); discovery fails."""

_PCI = re.compile(r"(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])")
# Ascend and Cambricon write release candidates as "23.0.rc3" / "24.1.RC1": a dot, then "rc".
_DOTTED_PRERELEASE = re.compile(r"\.(?=[A-Za-z])")


def run_tool(tool: Path, args: Sequence[str], *, vendor: str, timeout: float = TOOL_TIMEOUT_SECONDS) -> str:
    """Run ``tool args…`` and return its stdout.

    A missing tool raises ``BackendUnavailable("no <vendor> tool found at <tool>")``; a tool that
    cannot be executed, times out or exits non-zero raises ``BackendError`` naming the command and
    its stderr. The tool runs in a session (process group) of its own, and a timeout kills the
    whole group: a wrapper script's children (a hung driver call it started) must not outlive it.
    """
    command = [str(tool), *args]
    shown = " ".join(command)
    if not tool.is_file():
        raise BackendUnavailable(f"no {vendor} tool found at {tool}")
    try:
        process = subprocess.Popen(  # fixed argv from a flag, never a shell
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    except OSError as exc:
        raise BackendError(f"cannot run {shown}: {exc}") from exc
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise BackendError(f"{shown} did not answer within {timeout:g} s") from None
    except BaseException:
        _kill_group(process)
        raise
    if process.returncode != 0:
        detail = (stderr or stdout).strip().splitlines()
        reason = detail[-1] if detail else "no output"
        raise BackendError(f"{shown} exited with status {process.returncode}: {reason}")
    return stdout


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the tool's process group (its own session), reap the tool and close its pipes (a
    descendant that left the group could hold them open: never wait for their end)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def parse_error(tool: Path, line: str, why: str) -> BackendError:
    """``BackendError`` for output ``tool`` printed that cannot be read, quoting the line."""
    return BackendError(f"cannot parse the output of {tool}: {why}: {line.strip()!r}")


def optional_version(text: str, *, what: str) -> Version | None:
    """``text`` as semver (``"23.0.rc3"`` → ``23.0.0-rc3``), or ``None`` with a warning.

    A version the API server would reject must never be published (DESIGN §4), so an unreadable
    one is dropped rather than failing discovery.
    """
    cleaned = _DOTTED_PRERELEASE.sub("-", text.strip(), count=1)
    try:
        return normalize_version(cleaned)
    except ValueError as exc:
        log.warning("%s: not publishing driverVersion: %s", what, exc)
        return None


def pci_bus_id(text: str) -> str | None:
    """A PCI address in sysfs form (``0000:c1:00.0``: 4-digit domain, lower case); None if malformed."""
    match = _PCI.fullmatch(text.strip())
    if match is None:
        return None
    domain, bus, dev, fn = match.groups()
    return f"{int(domain or '0', 16) & 0xFFFF:04x}:{int(bus, 16):02x}:{int(dev, 16):02x}.{fn}"
