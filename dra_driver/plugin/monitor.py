"""The node plugin's HAMi monitor loop: ``interception.feedback.observe`` over the node's regions.

Owns: ``RegionMonitor``, a supervised background thread that every ``interval`` seconds (HAMi's
vGPUmonitor: 5) maps the HAMi-core region file of every container attached to a prepared claim
(``<claim dir>/<container id>/vgpu.cache``, DESIGN §5), runs one feedback pass over all of them
together (contention is per card, across claims) and unmaps them. A region that cannot be mapped
(torn, unknown layout, symlink) is left out of the pass and logged once per path; an unexpected
error in a pass is logged and counted, and the next pass runs anyway. It must never stop the plugin,
never write anything but the two feedback fields, and never touch a claim that is not prepared.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from dra_driver.checkpoint import CheckpointEntry, ClaimState
from dra_driver.interception import InterceptionSettings, claim_region_files
from dra_driver.interception.feedback import observe, open_regions

log = logging.getLogger("hdra.plugin")

INTERVAL_SECONDS = 5.0  # HAMi cmd/vGPUmonitor/feedback.go: time.NewTicker(time.Second * 5)


class RegionMonitor:
    """Runs HAMi's feedback pass over the regions of ``entries()``'s prepared claims until stopped."""

    def __init__(
        self,
        entries: Callable[[], Iterable[CheckpointEntry]],
        settings: InterceptionSettings,
        *,
        node_name: str,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self._entries = entries
        self._settings = settings
        self._node = node_name
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0
        self._errors = 0
        self._changed = threading.Condition()
        self._unreadable: set[Path] = set()

    @property
    def passes(self) -> int:
        return self._passes

    @property
    def errors(self) -> int:
        return self._errors

    def region_paths(self) -> list[Path]:
        """Every region file of every prepared claim, claims in checkpoint order."""
        paths: list[Path] = []
        for entry in self._entries():
            if entry.state is ClaimState.PREPARE_COMPLETED:
                paths.extend(path for _, path in claim_region_files(self._settings, entry.uid))
        return paths

    def run_once(self) -> int:
        """One feedback pass; returns how many regions took part. Raises only for unexpected errors."""
        mapped, failed = open_regions(self.region_paths())
        try:
            for path, reason in failed:
                if path not in self._unreadable:
                    log.warning(
                        "monitor: region left out node=%s path=%s reason=%r", self._node, path, reason
                    )
            self._unreadable = {path for path, _ in failed}
            observe(mapped)
            return len(mapped)
        finally:
            for region in mapped:
                region.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a wake() during the pass below starts the next one at once
            try:
                self.run_once()
            except Exception:  # supervised: a bad pass is logged; the loop (and the plugin) go on
                self._errors += 1
                log.exception("monitor: feedback pass failed node=%s", self._node)
            with self._changed:
                self._passes += 1
                self._changed.notify_all()
            self._wake.wait(self._interval)

    def wake(self) -> None:
        """Start the next pass now instead of after the interval."""
        self._wake.set()

    def wait_for_passes(self, count: int, timeout: float) -> bool:
        """Block until ``count`` passes have finished since start (False after ``timeout`` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._passes >= count, timeout)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="hdra-region-monitor", daemon=True)
        self._thread.start()
        log.info("monitor: started node=%s interval=%.1fs", self._node, self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
