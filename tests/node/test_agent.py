"""NodeAgent (issue 16 items 1-2, issue 18 items 1, 5, 6, 17): one composition root, checks before
publishing, a stop that acts at once, probes, and the published-pool snapshot prepare reads."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from dra_driver.cli.main import main
from dra_driver.devcluster import DevCluster, FaultRule
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient, RetryPolicy
from dra_driver.node import NodeAgent, NodeAgentConfig, NodeAgentError
from dra_driver.node.preflight import InstanceLock
from dra_driver.prepare import ClaimRef, PrepareError
from dra_driver.slices import SharingMode
from tests.support.claims import ClaimSpec, Result, create_allocated_claim

NODE = "node-a"
DRIVER = "mock.hdra.io"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def config(tmp_path: Path, **changes: object) -> NodeAgentConfig:
    values: dict[str, object] = {
        "driver": DRIVER,
        "node_name": NODE,
        "backend": "mock",
        "vendor": "mock",
        "plugin_dir": tmp_path / "plugins" / DRIVER,
        "registry_dir": tmp_path / "plugins_registry",
        "cdi_dir": tmp_path / "cdi",
        "state_dir": tmp_path / "state",
        "library_dir": tmp_path / "lib",
        "lock_dir": tmp_path / "vgpulock",
        "vdev_dir": tmp_path / "vdev",
        "mode": SharingMode.CAPACITY,
        "resync_seconds": 60.0,
        "cleanup_seconds": 60.0,
        "boot_id_file": tmp_path / "boot_id",
    }
    values.update(changes)
    (tmp_path / "boot_id").write_text("11111111-2222-3333-4444-555555555555\n")
    return NodeAgentConfig(**values)  # type: ignore[arg-type]


def cards() -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=NODE, profile="a100x4").discover()


@pytest.fixture
def cluster_client(cluster: DevCluster, kube: KubeClient) -> KubeClient:
    cluster.create_node(NODE)
    return kube


class ListOrder:
    """A ``CardOrder`` over a list the test changes (the seam a cluster-side order source uses)."""

    def __init__(self, items: Sequence[AcceleratorDevice]) -> None:
        self.items = list(items)

    def cards(self) -> list[AcceleratorDevice]:
        return list(self.items)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class Running:
    """A NodeAgent running in a thread until ``close``."""

    def __init__(self, agent: NodeAgent, order: ListOrder | None = None) -> None:
        self.agent = agent
        self.order = order
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.agent.run(self.stop)
        except BaseException as exc:
            self.error = exc

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the agent did not stop"


@pytest.fixture
def running(cluster_client: KubeClient, tmp_path: Path) -> Iterator[Running]:
    order = ListOrder(cards())
    agent = NodeAgent(
        config(tmp_path, metrics_port=0, metrics_host="127.0.0.1"),
        cluster_client,
        lambda: list(order.items),
        card_order=lambda _client, _cards, _agent: order,
    )
    run = Running(agent, order)
    try:
        assert wait_until(run.agent.started.is_set), run.error
        yield run
    finally:
        run.close()


def slices(kube: KubeClient) -> list[object]:
    return list(kube.resource_slices.list().items)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


# ---- composition, teardown and probes -----------------------------------------------------------


def test_the_agent_serves_probes_next_to_metrics_and_tears_down_in_reverse(running: Running) -> None:
    agent = running.agent
    assert agent.metrics_server is not None and agent.server is not None
    base = f"http://127.0.0.1:{agent.metrics_server.port}"
    assert wait_until(lambda: get(base + "/readyz")[0] == 200), get(base + "/readyz")
    code, text = get(base + "/healthz")
    assert code == 200 and "loop slice-sync: running" in text and "loop claim-cleanup: running" in text
    code, metrics = get(base + "/metrics")
    assert code == 200
    assert 'hdra_plugin_loop_healthy{loop="slice-sync",node="node-a"} 1.0' in metrics
    assert 'hdra_plugin_ready{node="node-a"} 1.0' in metrics
    assert "hdra_plugin_published_pool_version" in metrics
    sockets = [agent.server.dra_socket, agent.server.registration_socket]
    assert all(path.exists() for path in sockets)
    running.close()
    assert running.error is None
    assert not any(path.exists() for path in sockets)
    assert all(not status.alive for status in agent.supervisor.statuses())


def test_readiness_names_a_failing_loop(running: Running) -> None:
    agent = running.agent
    agent.supervisor.report("slice-sync", "ValueError: bad card")
    ok, text = agent.readiness()
    assert not ok and "FAIL loop slice-sync: running, 1 failure(s) in a row: ValueError: bad card" in text


# ---- the published-pool snapshot -------------------------------------------------------------------


def test_prepare_reads_the_snapshot_swapped_in_by_the_last_sync(
    running: Running, cluster_client: KubeClient
) -> None:
    """The stale-catalog case (issue 16): prepare must read exactly the pool of the last successful
    sync — after a re-publish that dropped gpu-3, a claim for gpu-3 is refused at once."""
    agent = running.agent
    assert agent.preparer is not None and agent.publisher is not None
    before = agent.pool()
    assert before.version >= 1 and "gpu-3" in before.names()
    consumed = {"memory": "1Gi", "cores": "10", "shares": "1"}
    created = create_allocated_claim(
        cluster_client, ClaimSpec("late", [Result("gpu-3", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    assert created.metadata is not None and created.metadata.uid is not None
    claim = ClaimRef(created.metadata.uid, "default", "late")

    assert running.order is not None
    running.order.items.pop()  # gpu-3 is gone; the publisher re-reads the card order on every sync
    agent.request_sync()
    assert wait_until(lambda: agent.pool().version > before.version and "gpu-3" not in agent.pool().names())
    after = agent.pool()
    assert after.generation == before.generation + 1
    assert before.names() != after.names()  # the old snapshot is untouched: snapshots are immutable
    with pytest.raises(PrepareError, match=r"gpu-3 .* is not published by this node"):
        agent.preparer.prepare(claim)
    assert agent.health is None or all(s.device != "gpu-3" for s in agent.health.states())


# ---- checks before publishing, one instance, a stop that acts at once ------------------------------


def test_a_plugin_dir_that_is_a_file_stops_the_agent_before_it_publishes(
    cluster_client: KubeClient, tmp_path: Path
) -> None:
    """Issue 18 item 17: `--plugin-dir /etc/passwd` exited 1 but had already updated the live slice."""
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    agent = NodeAgent(config(tmp_path, plugin_dir=a_file), cluster_client, cards)
    with pytest.raises(NodeAgentError, match=f"--plugin-dir {a_file} is not a directory"):
        agent.run(threading.Event())
    assert slices(cluster_client) == []


@pytest.mark.parametrize("flag", ["cdi_dir", "registry_dir", "state_dir", "vdev_dir", "library_dir"])
def test_every_dir_is_checked_before_publishing(
    cluster_client: KubeClient, tmp_path: Path, flag: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    agent = NodeAgent(config(tmp_path, **{flag: blocker / "sub"}), cluster_client, cards)
    with pytest.raises(NodeAgentError, match=r"is not a directory .*blocker is in the way"):
        agent.run(threading.Event())
    assert slices(cluster_client) == []


def test_a_second_instance_on_the_same_state_dir_is_refused(
    running: Running, cluster_client: KubeClient, tmp_path: Path
) -> None:
    """Issue 18 item 1: a second plugin took over the first one's sockets and deleted them on exit."""
    second = NodeAgent(config(tmp_path), cluster_client, cards)
    with pytest.raises(
        NodeAgentError, match=r"another hdra kubelet-plugin \(pid \d+\) already runs with --state-dir"
    ):
        second.run(threading.Event())
    assert running.agent.server is not None and running.agent.server.dra_socket.exists()


def test_the_instance_lock_is_free_again_once_released(tmp_path: Path) -> None:
    with (
        InstanceLock(tmp_path, "--state-dir"),
        pytest.raises(NodeAgentError, match="already runs"),
        InstanceLock(tmp_path, "--state-dir"),
    ):
        pass
    with InstanceLock(tmp_path, "--state-dir"):
        pass


def test_a_stop_during_start_up_acts_at_once_and_never_serves(
    cluster: DevCluster, cluster_client: KubeClient, tmp_path: Path
) -> None:
    """Issue 18 item 5: SIGTERM took ~30 s and the plugin started serving after it. Here the API
    stalls every slice request, so the first sync cannot finish; the stop still ends start-up."""
    fast = RetryPolicy(
        attempts=2, deadline_s=3.0, backoff_initial_s=0.02, backoff_max_s=0.1, request_timeout_s=1.0
    )
    client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp_path / "fast-kubeconfig"), retry=fast)
    cluster.faults.add(FaultRule("*", "resourceslices", delay_s=20.0, count=1000))
    run = Running(NodeAgent(config(tmp_path), client, cards))
    try:
        time.sleep(0.5)
        stopped_at = time.monotonic()
        run.stop.set()
        run.thread.join(15)
        took = time.monotonic() - stopped_at
        assert not run.thread.is_alive() and run.error is None
        assert took < 5.0, took
        assert not (tmp_path / "plugins_registry" / f"{DRIVER}-reg.sock").exists()
        assert run.agent.server is None
        # The loops stuck in a stalled call end once their retry budget is spent; none outlives it.
        assert wait_until(lambda: not any(s.alive for s in run.agent.supervisor.statuses()), 20.0)
    finally:
        cluster.faults.clear()
        client.close()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--cleanup-seconds", "0"], "--cleanup-seconds: '0' must be a positive number of seconds"),
        (["--resync-seconds", "-1"], "--resync-seconds: '-1' must be a positive number of seconds"),
        (["--resync-seconds", "nan"], "--resync-seconds: 'nan' must be a positive number of seconds"),
    ],
)
def test_non_positive_periods_are_refused(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 6: 0 or a negative period spun a core."""
    with pytest.raises(SystemExit) as exited:
        main(["kubelet-plugin", *flags])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_driver_name_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 5: `--driver Bad` killed the sync thread with a traceback and kept running."""
    code = main(
        ["kubelet-plugin", "--driver", "Bad", "--node-name", NODE, "--state-dir", str(tmp_path / "s")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("hdra: --driver/--node-name: driver 'Bad' is not a lower-case DNS subdomain"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_config_refuses_non_positive_periods(tmp_path: Path) -> None:
    with pytest.raises(NodeAgentError, match="--cleanup-seconds must be a positive number"):
        config(tmp_path, cleanup_seconds=0.0)
