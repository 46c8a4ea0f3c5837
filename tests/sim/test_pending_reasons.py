"""Pending reasons say what is missing (issue 18 item 19: "4 of 4 device(s) usable, 8 needed (no
devices on this node)" on a node with four usable devices)."""

from __future__ import annotations

from dra_driver.sim import ClusterState, Pending
from tests.sim.builders import mock_slices


def _claim(count: int) -> dict[str, object]:
    request = {"name": "gpu", "exactly": {"deviceClassName": "mock.hdra.io", "count": count}}
    return {
        "metadata": {"name": "c", "namespace": "default", "uid": "u"},
        "spec": {"devices": {"requests": [request]}},
    }


def test_too_few_usable_devices_is_not_called_no_devices() -> None:
    outcome = ClusterState(mock_slices("n", "a100x4")).place_pod([_claim(8)])
    assert isinstance(outcome, Pending)
    assert outcome.message == (
        "node n: claim default/c request gpu: 4 of 4 device(s) usable, 8 needed (the node has only 4)"
    )
