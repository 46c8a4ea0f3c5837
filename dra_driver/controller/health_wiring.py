"""Device health wired into a node: slices re-published on change, health per published device.

Owns: ``NodeHealth`` (joins a ``HealthMonitor`` with the slice publisher and controller: the
publisher's device callable gets health filled in, a change requests a slice sync, and the health
of every *published* device — partitions and replicas share their card's health — is offered in
the shape ``dra_driver.plugin.health.HealthSource`` reads) and ``node_health`` (the monitor a
backend gets from the command-line options). It must never serve gRPC or parse arguments: the CLI
hands ``NodeHealth`` to ``PluginServer(health=...)`` and passes the flag values in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from dra_driver.controller.loop import SliceController
from dra_driver.controller.publisher import SlicePublisher
from dra_driver.devices import AcceleratorDevice
from dra_driver.devices.health import (
    DEFAULT_IGNORED_XIDS,
    DeviceHealthState,
    HealthMonitor,
    MockHealthFile,
    with_health,
)

log = logging.getLogger("hdra.controller")


class NodeHealth:
    """The health of one node's pool (pool name = node name) from ``monitor``."""

    def __init__(self, monitor: HealthMonitor, *, pool: str) -> None:
        self._monitor = monitor
        self._pool = pool
        self._cards: Callable[[], Sequence[AcceleratorDevice]] = list
        self._publisher: SlicePublisher | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def pool(self) -> str:
        return self._pool

    @property
    def monitor(self) -> HealthMonitor:
        return self._monitor

    def devices(
        self, cards: Callable[[], Sequence[AcceleratorDevice]]
    ) -> Callable[[], list[AcceleratorDevice]]:
        """``cards`` with health filled in: hand this to ``SlicePublisher(devices=...)``."""
        self._cards = cards
        return with_health(cards, self._monitor)

    def attach(self, publisher: SlicePublisher, controller: SliceController) -> None:
        """Re-sync slices on every health change; name devices after what ``publisher`` published."""
        self._publisher = publisher
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = self._monitor.subscribe(controller.request_sync)

    def start(self) -> None:
        self._monitor.start()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._monitor.stop()

    def subscribe(self, on_change: Callable[[], None]) -> Callable[[], None]:
        return self._monitor.subscribe(on_change)

    def states(self) -> list[DeviceHealthState]:
        """Every published device with its card's health; cards by name before the first publish."""
        unhealthy = self._monitor.unhealthy()
        cards = {card.uuid: card.name for card in self._cards()}
        published = self._published_devices(cards)
        if not published:
            published = [(name, name) for name in cards.values()]
        return [
            DeviceHealthState(device=device, healthy=card not in unhealthy, message=unhealthy.get(card, ""))
            for device, card in published
        ]

    def _published_devices(self, cards: dict[str, str]) -> list[tuple[str, str]]:
        """(published device name, card name) for every device of the publisher's last snapshot."""
        if self._publisher is None:
            return []
        pool = self._publisher.published_pool
        return [
            (device.name, cards.get(device.card.uuid, device.card.name)) for device in pool.devices.values()
        ]


def node_health(
    backend: str,
    cards: Sequence[AcceleratorDevice],
    *,
    node_name: str,
    mock_health_file: Path | None = None,
    ignored_xids: Iterable[int] = DEFAULT_IGNORED_XIDS,
) -> NodeHealth | None:
    """The node's health wiring for ``backend``, or ``None`` when nothing watches health.

    ``mock_health_file`` only applies to (and is the only monitor of) the mock backend; the nvidia
    backend watches NVML events. Other backends have no health monitor yet.
    """
    if mock_health_file is not None:
        if backend != "mock":
            raise ValueError(f"--mock-health-file {mock_health_file} needs --backend mock, not {backend!r}")
        monitor: HealthMonitor = MockHealthFile(mock_health_file, [card.name for card in cards])
    elif backend == "nvidia":
        # Only NVIDIA nodes load nvidia-ml-py (DESIGN §3, the node plugin's memory).
        from dra_driver.devices.nvml_health import NvmlHealthWatcher  # noqa: PLC0415

        monitor = NvmlHealthWatcher(ignored_xids=ignored_xids)
    else:
        return None
    return NodeHealth(monitor, pool=node_name)


def parse_xids(text: str) -> frozenset[int]:
    """``13,31,43`` → the set of XIDs; an empty string is the empty set."""
    xids: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            xid = int(part)
        except ValueError:
            raise ValueError(f"--ignored-xids: {part.strip()!r} in {text!r} is not an integer") from None
        if xid < 0:
            raise ValueError(f"--ignored-xids: {xid} in {text!r} is negative")
        xids.add(xid)
    return frozenset(xids)
