"""The mock health file, ``with_health`` and the ``<driver>/unhealthy`` taint in built slices."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from dra_driver.devices import MockBackend
from dra_driver.devices.health import MockHealthFile, with_health
from dra_driver.kube.features import KubeVersion
from dra_driver.slices import SharingMode, SliceOptions, build_slices
from dra_driver.slices.taints import reason_value

DRIVER = "mock.hdra.io"
NAMES = ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]


def test_missing_file_means_all_healthy(tmp_path: Path) -> None:
    assert MockHealthFile(tmp_path / "absent", NAMES).unhealthy() == {}


def test_listed_cards_are_unhealthy_and_unknown_names_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "health"
    path.write_text("gpu-1\n\n# comment\ngpu-9\n  gpu-3  \n")
    with caplog.at_level(logging.WARNING):
        monitor = MockHealthFile(path, NAMES)
    assert set(monitor.unhealthy()) == {"gpu-1", "gpu-3"}
    assert monitor.unhealthy()["gpu-1"].startswith("MarkedUnhealthy: ")
    assert str(path) in monitor.unhealthy()["gpu-1"]
    assert "unknown device 'gpu-9'" in caplog.text


def test_changes_are_noticed_by_the_poller_and_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "health"
    monitor = MockHealthFile(path, NAMES, poll_seconds=0.02)
    changes: list[dict[str, str]] = []
    changed = threading.Event()

    def on_change() -> None:
        changes.append(monitor.unhealthy())
        changed.set()

    monitor.subscribe(on_change)
    monitor.start()
    try:
        path.write_text("gpu-2\n")
        assert changed.wait(5.0)
        changed.clear()
        path.unlink()
        assert changed.wait(5.0)
    finally:
        monitor.stop()
    assert [set(state) for state in changes] == [{"gpu-2"}, set()]


def test_a_non_utf8_byte_does_not_stop_the_watch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 18 item 11: ``\\xff`` in the file killed the poller, so the card stayed tainted after the
    file was deleted. The readable names still count, the bad bytes are named once, and the poller
    goes on: deleting the file makes every card healthy again."""
    path = tmp_path / "health"
    monitor = MockHealthFile(path, NAMES, poll_seconds=0.02)
    changed = threading.Event()
    monitor.subscribe(changed.set)
    monitor.start()
    try:
        with caplog.at_level(logging.WARNING):
            path.write_bytes(b"gpu-1\n\xff\xfe\n")
            assert changed.wait(5.0)
        assert set(monitor.unhealthy()) == {"gpu-1"}
        assert "not UTF-8" in caplog.text
        changed.clear()
        path.unlink()
        assert changed.wait(5.0), "the poller stopped"
        assert monitor.unhealthy() == {}
    finally:
        monitor.stop()


def test_unsubscribed_listener_is_not_called(tmp_path: Path) -> None:
    path = tmp_path / "health"
    monitor = MockHealthFile(path, NAMES)
    calls: list[int] = []
    unsubscribe = monitor.subscribe(lambda: calls.append(1))
    path.write_text("gpu-0\n")
    monitor.refresh()
    unsubscribe()
    path.write_text("")
    monitor.refresh()
    assert calls == [1]


def test_with_health_fills_in_health_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "health"
    path.write_text("gpu-1\n")
    cards = MockBackend("node-a").discover()[::-1]
    devices = with_health(lambda: cards, MockHealthFile(path, NAMES))()
    assert [d.name for d in devices] == ["gpu-3", "gpu-2", "gpu-1", "gpu-0"]
    assert [d.healthy for d in devices] == [True, True, False, True]
    assert devices[2].health_message.startswith("MarkedUnhealthy: ")


@pytest.mark.parametrize("mode", [SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS])
def test_every_device_of_an_unhealthy_card_is_tainted(tmp_path: Path, mode: SharingMode) -> None:
    path = tmp_path / "health"
    path.write_text("gpu-1\n")
    cards = with_health(MockBackend("node-a").discover, MockHealthFile(path, NAMES))()
    built = build_slices(cards, driver=DRIVER, node_name="node-a", mode=mode)
    tainted: set[str] = set()
    clean: set[str] = set()
    for slice_ in built:
        for device in slice_.spec.devices or []:
            uuid = str((device.attributes or {})["uuid"].string)
            (tainted if device.taints else clean).add(uuid)
            for taint in device.taints or []:
                assert (taint.key, taint.value, taint.effect) == (
                    f"{DRIVER}/unhealthy",
                    "MarkedUnhealthy",
                    "NoSchedule",
                )
                assert taint.time_added is None
    assert tainted == {cards[1].uuid}
    assert clean == {cards[0].uuid, cards[2].uuid, cards[3].uuid}


def test_effect_comes_from_the_options(tmp_path: Path) -> None:
    path = tmp_path / "health"
    path.write_text("gpu-0\n")
    cards = with_health(MockBackend("node-a").discover, MockHealthFile(path, NAMES))()
    options = SliceOptions(health_taint_effect="NoExecute")
    built = build_slices(
        cards, driver=DRIVER, node_name="node-a", mode=SharingMode.EXCLUSIVE, options=options
    )
    device = built[0].spec.devices[0]  # type: ignore[index]
    assert device.taints[0].effect == "NoExecute"  # type: ignore[index]


@pytest.mark.parametrize(
    ("version", "enabled", "expected"),
    [
        (KubeVersion(1, 36), None, True),
        (KubeVersion(1, 35), None, False),
        (KubeVersion(1, 34), None, False),
        (KubeVersion(1, 35), True, True),
        (KubeVersion(1, 36), False, False),
    ],
)
def test_taints_follow_the_gate_default_unless_set(
    tmp_path: Path, version: KubeVersion, enabled: bool | None, expected: bool
) -> None:
    path = tmp_path / "health"
    path.write_text("gpu-0\n")
    cards = with_health(MockBackend("node-a").discover, MockHealthFile(path, NAMES))()
    options = SliceOptions(kube_version=version, taints_enabled=enabled)
    assert options.publish_taints is expected
    built = build_slices(
        cards, driver=DRIVER, node_name="node-a", mode=SharingMode.EXCLUSIVE, options=options
    )
    device = built[0].spec.devices[0]  # type: ignore[index]
    assert bool(device.taints) is expected


def test_invalid_effect_is_rejected() -> None:
    with pytest.raises(ValueError, match="health_taint_effect"):
        SliceOptions(health_taint_effect="None")


@pytest.mark.parametrize(
    ("message", "value"),
    [
        ("XID-79: NVML reported critical XID 79", "XID-79"),
        ("bad things happened", "bad-things-happened"),
        ("--: detail", "Unhealthy"),
        ("", "Unhealthy"),
        ("x" * 100, "x" * 63),
    ],
)
def test_taint_value_is_a_label_value(message: str, value: str) -> None:
    assert reason_value(message) == value
