"""Device health: which cards are unhealthy right now, and who to tell when that changes.

Owns: ``HealthMonitor`` (the protocol), ``DeviceHealthState`` (one device's state), the two
monitors ``MockHealthFile`` (a file naming unhealthy cards, for the mock backend and tests) and
``NvmlHealthWatcher`` (in :mod:`.nvml_health`, loaded only on NVIDIA nodes: a thread on NVML events,
XID critical errors, double-bit ECC, GPU lost), and ``with_health`` (the device callable with
``healthy``/``health_message`` filled in).

Contract: every unhealthy message starts with a short reason that is a valid label value
(``XID-79``, ``DoubleBitEcc``, ``GPULost``, ``MarkedUnhealthy``), then ``": "`` and the detail;
the slice builder uses the reason as the taint value. Monitors call their listeners from their own
thread after the state changed; a failing listener is logged and never stops the monitor. NVML
health is sticky: NVML reports no recovery, so a card stays unhealthy until the watcher restarts.
It must never publish slices or serve gRPC; it only knows cards by their device names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dra_driver.devices.base import AcceleratorDevice

log = logging.getLogger("hdra.devices")

DEFAULT_IGNORED_XIDS: frozenset[int] = frozenset({13, 31, 43, 45, 68, 109})
"""Application-caused XIDs NVIDIA's DRA driver ignores (reference/dra-drivers.md section 1h)."""


@dataclass(frozen=True)
class DeviceHealthState:
    """The health of one device as reported to the kubelet; ``healthy`` None means unknown."""

    device: str
    healthy: bool | None
    message: str = ""


class HealthMonitor(Protocol):
    """A source of card health. ``unhealthy`` maps card name → message (see the module contract)."""

    def unhealthy(self) -> dict[str, str]: ...

    def subscribe(self, on_change: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_change()`` after every change; returns the function that unsubscribes."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Listeners:
    """The shared part of every monitor: the state under a lock and the change listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []

    def unhealthy(self) -> dict[str, str]:
        with self._lock:
            return dict(self._state)

    def subscribe(self, on_change: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(on_change)

        def unsubscribe() -> None:
            with self._lock:
                if on_change in self._listeners:
                    self._listeners.remove(on_change)

        return unsubscribe

    def _set(self, state: Mapping[str, str]) -> None:
        """Replace the state; tell the listeners only when it really changed."""
        with self._lock:
            if dict(state) == self._state:
                return
            previous, self._state = self._state, dict(state)
            listeners = list(self._listeners)
        for name in sorted(set(state) - set(previous)):
            log.warning("device %s is unhealthy: %s", name, state[name], extra={"device": name})
        for name in sorted(set(previous) - set(state)):
            log.info("device %s is healthy again", name, extra={"device": name})
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("device health listener %r failed", listener)


class MockHealthFile(_Listeners):
    """Cards named in ``path`` (one device name per line) are unhealthy; a missing file means none.

    The file is polled every ``poll_seconds``; blank lines and ``#`` comments are skipped, and a
    name that is not in ``known_devices`` is ignored with a warning (once per name).
    """

    def __init__(self, path: Path, known_devices: Collection[str], *, poll_seconds: float = 0.2) -> None:
        super().__init__()
        self._path = path
        self._known = frozenset(known_devices)
        self._poll = poll_seconds
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    def refresh(self) -> None:
        """Read the file once and update the state."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as error:
            log.warning("cannot read mock health file %s, keeping the last state: %s", self._path, error)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            # Not UTF-8: the undecodable bytes match no device name; the rest of the file still counts.
            if "\0undecodable" not in self._warned:
                self._warned.add("\0undecodable")
                log.warning(
                    "mock health file %s is not UTF-8 (%s); undecodable names are ignored", self._path, error
                )
            text = data.decode("utf-8", errors="replace")
        state: dict[str, str] = {}
        for line in text.splitlines():
            name = line.split("#", 1)[0].strip()
            if not name:
                continue
            if name not in self._known:
                if name not in self._warned:
                    self._warned.add(name)
                    log.warning(
                        "mock health file %s names unknown device %r (known: %s); ignored",
                        self._path,
                        name,
                        ", ".join(sorted(self._known)),
                    )
                continue
            state[name] = f"MarkedUnhealthy: device {name} is listed in mock health file {self._path}"
        self._set(state)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hdra-mock-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.refresh()


def with_health(
    devices: Callable[[], Sequence[AcceleratorDevice]], monitor: HealthMonitor
) -> Callable[[], list[AcceleratorDevice]]:
    """``devices`` with each card's ``healthy``/``health_message`` set from ``monitor``, order kept."""

    def healthy_devices() -> list[AcceleratorDevice]:
        unhealthy = monitor.unhealthy()
        return [
            device.model_copy(
                update={
                    "healthy": device.name not in unhealthy,
                    "health_message": unhealthy.get(device.name, ""),
                }
            )
            for device in devices()
        ]

    return healthy_devices
