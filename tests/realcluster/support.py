"""Checks shared by the real-cluster tests: nothing of a stopped cluster may survive."""

from __future__ import annotations

import dataclasses
import os

from dra_driver.realcluster import RealCluster
from dra_driver.realcluster.processes import port_open


def assert_fully_stopped(cluster: RealCluster) -> None:
    """Every component exited, no process of its group is left, and no port still listens."""
    for name, process in cluster.processes.items():
        assert process.exit_code() is not None, f"{name} (pid {process.pid}) still runs"
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            pass
        else:
            raise AssertionError(f"process group of {name} (pgid {process.pid}) still has members")
    for field in dataclasses.fields(cluster.ports):
        port = getattr(cluster.ports, field.name)
        assert not port_open(port), f"{field.name} port {port} still accepts connections"
