"""The scheduler extender over real HTTP, scoring nodes of the dev cluster; and `hdra controller`."""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dra_driver.cli.common import CommandError
from dra_driver.controller import SlicePublisher
from dra_driver.controller.cluster_usage import ClusterUsage
from dra_driver.controller.extender import ExtenderServer
from dra_driver.controller.node_scores import node_score
from dra_driver.devcluster import DevCluster
from dra_driver.devices import make_backend
from dra_driver.kube import KubeClient, Unavailable
from dra_driver.slices import SharingMode
from tests.support.claims import ClaimSpec, Result, create_allocated_claim

DRIVER = "mock.hdra.io"
POD = {
    "metadata": {"name": "trainer", "namespace": "default"},
    "spec": {
        "containers": [{"name": "main", "image": "busybox", "resources": {"claims": [{"name": "gpu"}]}}],
        "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}],
    },
}
PLAIN_POD = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "main", "image": "nginx"}]}}


def publish(kube: KubeClient, cluster: DevCluster, node: str) -> None:
    cluster.create_node(node)
    cards = make_backend("mock", node_name=node, profile="a100x4").discover()
    SlicePublisher(
        kube, driver=DRIVER, node_name=node, devices=lambda: cards, mode=SharingMode.CAPACITY
    ).sync()


def allocate(kube: KubeClient, name: str, node: str, device: str, memory: str) -> None:
    create_allocated_claim(
        kube, ClaimSpec(name=name, node=node, results=[Result(device=device, consumed={"memory": memory})])
    )


@pytest.fixture
def usage(kube: KubeClient, cluster: DevCluster) -> Iterator[ClusterUsage]:
    """node-a uses 20 of 160 GiB (0.125), node-b 120 of 160 GiB (0.75); node-c has no hdra cards.

    ``ClusterUsage.start`` computes from one listing before it returns, so the numbers hold at once.
    """
    publish(kube, cluster, "node-a")
    publish(kube, cluster, "node-b")
    cluster.create_node("node-c")
    allocate(kube, "a0", "node-a", "gpu-0", "20Gi")
    for i in range(3):
        allocate(kube, f"b{i}", "node-b", f"gpu-{i}", "40Gi")
    tracked = ClusterUsage(kube)
    tracked.start()
    try:
        yield tracked
    finally:
        tracked.stop()


@pytest.fixture
def servers(usage: ClusterUsage) -> Iterator[dict[str, ExtenderServer]]:
    started = {policy: ExtenderServer(usage, policy=policy) for policy in ("binpack", "spread")}
    for server in started.values():
        server.start()
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def bare() -> Iterator[ExtenderServer]:
    """A server over an empty cluster view: for what does not depend on usage."""
    server = ExtenderServer(dict, policy="binpack")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def request(
    server: ExtenderServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def prioritize(server: ExtenderServer, args: Any) -> list[dict[str, Any]]:
    status, body = request(server, "POST", "/prioritize", json.dumps(args).encode())
    assert status == 200, body
    answer: list[dict[str, Any]] = json.loads(body)
    return answer


def scores(answer: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(entry["Host"], entry["Score"]) for entry in answer]


def test_node_names_are_scored_by_usage_under_both_policies(servers: dict[str, ExtenderServer]) -> None:
    args = {"Pod": POD, "NodeNames": ["node-a", "node-b", "node-c"]}
    # binpack: round(10 u); spread: 10 - binpack; a node without our cards: 0 under both.
    assert scores(prioritize(servers["binpack"], args)) == [("node-a", 1), ("node-b", 8), ("node-c", 0)]
    assert scores(prioritize(servers["spread"], args)) == [("node-a", 9), ("node-b", 2), ("node-c", 0)]


def test_node_list_variant_and_legacy_lower_case_keys(servers: dict[str, ExtenderServer]) -> None:
    nodes = {
        "items": [{"metadata": {"name": "node-b", "labels": {"x": "y"}}}, {"metadata": {"name": "node-a"}}]
    }
    answer = prioritize(servers["binpack"], {"Pod": POD, "Nodes": nodes, "NodeNames": None})
    assert answer == [{"Host": "node-b", "Score": 8}, {"Host": "node-a", "Score": 1}]
    legacy = {"pod": POD, "nodenames": ["node-a", "node-b"]}
    assert scores(prioritize(servers["spread"], legacy)) == [("node-a", 9), ("node-b", 2)]


def test_pod_without_resource_claims_gets_no_preference(servers: dict[str, ExtenderServer]) -> None:
    args = {"Pod": PLAIN_POD, "NodeNames": ["node-a", "node-b"]}
    assert scores(prioritize(servers["binpack"], args)) == [("node-a", 0), ("node-b", 0)]
    assert scores(prioritize(servers["spread"], args)) == [("node-a", 0), ("node-b", 0)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "ExtenderArgs must be a JSON object, got [1, 2]"),
        (b'{"NodeNames": ["node-a"]}', "ExtenderArgs.Pod must be a Pod object, got null"),
        (json.dumps({"Pod": POD}).encode(), "neither NodeNames nor Nodes"),
        (
            json.dumps({"Pod": POD, "NodeNames": "node-a"}).encode(),
            'NodeNames must be a list of node names, got "node-a"',
        ),
        (
            json.dumps({"Pod": POD, "Nodes": {"items": [{"metadata": {}}]}}).encode(),
            "Nodes.items[0].metadata.name",
        ),
        (json.dumps({"Pod": POD, "Nodes": ["node-a"]}).encode(), "Nodes must be a NodeList with items"),
        # issue 18 item 15: 100,000 nested [ closed the connection with a RecursionError
        (b"[" * 100_000, "the body nests arrays or objects deeper than 100 levels"),
        (
            b'{"Pod": ' + b'{"a": ' * 150 + b"1" + b"}" * 151,
            "the body nests arrays or objects deeper than 100",
        ),
        (b"\xff\xfe", "the body is not UTF-8: byte 0 is invalid"),
    ],
)
def test_malformed_requests_get_400_with_the_cause(bare: ExtenderServer, body: bytes, message: str) -> None:
    status, answer = request(bare, "POST", "/prioritize", body)
    assert status == 400
    assert message in answer.decode()


def test_a_body_over_the_limit_is_refused_before_it_is_read(bare: ExtenderServer) -> None:
    """Issue 18 item 15: the controller read a 60 MB body; now anything over 16 MiB is a 413."""
    connection = http.client.HTTPConnection("127.0.0.1", bare.port, timeout=10)
    try:
        connection.putrequest("POST", "/prioritize")
        connection.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
        connection.endheaders()  # no body is sent: the answer must come without it
        response = connection.getresponse()
        assert response.status == 413
        assert f"outside 0..{16 * 1024 * 1024}" in response.read().decode()
    finally:
        connection.close()


def test_healthz_unknown_paths_and_methods(bare: ExtenderServer) -> None:
    server = bare
    assert request(server, "GET", "/healthz") == (200, b"ok\n")
    status, body = request(server, "GET", "/filter")
    assert status == 404 and b"'/filter'" in body
    assert request(server, "GET", "/prioritize")[0] == 405
    assert request(server, "POST", "/healthz", b"")[0] == 405


def test_keep_alive_serves_several_requests_on_one_connection(servers: dict[str, ExtenderServer]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", servers["spread"].port, timeout=10)
    try:
        for _ in range(3):
            connection.request("POST", "/prioritize", body=json.dumps({"Pod": POD, "NodeNames": ["node-b"]}))
            response = connection.getresponse()
            assert json.loads(response.read()) == [{"Host": "node-b", "Score": 2}]
    finally:
        connection.close()


def test_usage_counts_only_the_drivers_asked_for(kube: KubeClient, usage: ClusterUsage) -> None:
    assert usage()["node-a"].memory_bytes == 20 * 1024**3  # every *.hdra.io driver by default
    mine = ClusterUsage(kube, drivers=[DRIVER])
    other = ClusterUsage(kube, drivers=["other.example.com"])
    mine.start()
    other.start()
    try:
        assert mine() == usage()
        assert other() == {}
    finally:
        mine.stop()
        other.stop()


def test_api_failure_answers_503_with_the_cause() -> None:
    def broken() -> dict[str, Any]:
        raise Unavailable(
            verb="list",
            kind="ResourceSlice",
            name=None,
            namespace=None,
            code=None,
            reason=None,
            detail="refused",
        )

    server = ExtenderServer(broken, policy="spread")
    server.start()
    try:
        status, body = request(
            server, "POST", "/prioritize", json.dumps({"Pod": POD, "NodeNames": ["n"]}).encode()
        )
    finally:
        server.stop()
    assert status == 503 and b"refused" in body


def test_scores_stay_in_the_extender_range() -> None:
    assert [node_score(u / 20, "binpack") for u in range(21)] == sorted(
        node_score(u / 20, "binpack") for u in range(21)
    )
    assert {node_score(u, "binpack") + node_score(u, "spread") for u in (0.0, 0.04, 0.5, 0.96, 1.0, 2.0)} == {
        10
    }
    assert node_score(-1.0, "binpack") == 0 and node_score(2.0, "binpack") == 10
    with pytest.raises(ValueError, match="'fifo'"):
        node_score(0.5, "fifo")
    with pytest.raises(ValueError, match="'none'"):
        ExtenderServer(dict, policy="none")  # type: ignore[arg-type]


_SCRIPT = """
import argparse, logging, sys
from dra_driver.cli import controller
logging.basicConfig(level=logging.INFO, format="%(message)s")
parser = argparse.ArgumentParser()
controller.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


def test_controller_command_serves_until_sigterm(kubeconfig: Path, usage: ClusterUsage) -> None:
    argv = [
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--policy",
        "spread",
    ]
    process = subprocess.Popen([sys.executable, "-c", _SCRIPT, *argv], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST", "/prioritize", body=json.dumps({"Pod": POD, "NodeNames": ["node-a", "node-c"]})
        )
        assert json.loads(connection.getresponse().read()) == [
            {"Host": "node-a", "Score": 9},
            {"Host": "node-c", "Score": 0},
        ]
        connection.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_controller_command_rejects_a_bad_port() -> None:
    parser = argparse.ArgumentParser()
    from dra_driver.cli import controller

    controller.add_parser(parser.add_subparsers())
    args = parser.parse_args(["controller", "--port", "70000"])
    with pytest.raises(CommandError, match="--port 70000"):
        args.run(args)
