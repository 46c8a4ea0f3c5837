"""What a node agent runs with: every setting of ``hdra kubelet-plugin`` as one typed value.

Owns: ``NodeAgentConfig`` (validated on construction: positive periods, a driver and node name the
API server accepts as a pool) and ``NodeAgentError`` (start-up cannot go on; one line naming the
cause, which the CLI prints as ``hdra: <message>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dra_driver.interception import InterceptionSettings
from dra_driver.slices import SharingMode, SliceOptions, check_pool_names


class NodeAgentError(Exception):
    """The node agent cannot start; the message names the cause in one line."""


@dataclass(frozen=True)
class NodeAgentConfig:
    driver: str
    node_name: str
    backend: str
    vendor: str
    plugin_dir: Path
    registry_dir: Path
    cdi_dir: Path
    state_dir: Path
    library_dir: Path
    lock_dir: Path
    vdev_dir: Path
    hook_python: Path = field(default_factory=lambda: InterceptionSettings().hook_python)
    mode: SharingMode = SharingMode.AUTO
    options: SliceOptions = field(default_factory=SliceOptions)
    visibility: str = "env"
    boot_id_file: Path = Path("/proc/sys/kernel/random/boot_id")
    policy: str = "none"
    policy_url: str | None = None
    """``hdra controller``'s URL: card use comes from there (one cluster watch) instead of a claim watch."""
    mock_health_file: Path | None = None
    ignored_xids: frozenset[int] = frozenset()
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None
    resync_seconds: float = 30.0
    cleanup_seconds: float = 60.0
    monitor_seconds: float = 0.0  # HAMi's region feedback (NVIDIA, mock); 0: off
    with_library: bool = False

    def __post_init__(self) -> None:
        for name in ("resync_seconds", "cleanup_seconds"):
            value = getattr(self, name)
            if not value > 0:
                flag = "--" + name.replace("_", "-")
                raise NodeAgentError(f"{flag} must be a positive number of seconds, not {value}")
        if not self.monitor_seconds >= 0:
            raise NodeAgentError(
                f"--monitor-seconds must be 0 (off) or a positive number, not {self.monitor_seconds}"
            )
        try:
            check_pool_names(self.driver, self.node_name)
        except ValueError as exc:
            raise NodeAgentError(f"--driver/--node-name: {exc}") from None
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise NodeAgentError(f"--metrics-port {self.metrics_port} is not a port number (0..65535)")
