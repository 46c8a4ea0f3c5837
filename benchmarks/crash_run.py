"""Crash run (issue 9 point 2): random prepare / unprepare / SIGKILL / restart / kubelet restarts over
4 node plugins, then proof that nothing leaked and nothing was lost.

Each node is a real ``hdra kubelet-plugin`` process (mock a100x4 cards, capacity mode) with its own
node name, its own fake kubelet (registration + DRA gRPC over unix sockets) and its own dirs; all
share one in-process dev cluster. A seeded ``random.Random`` picks the operations; a model records
which claims must be prepared on which node. Operations:

- ``prepare``: a fresh claim allocated to the node, prepared through the kubelet (or, now and then,
  a prepared claim sent again: prepare is idempotent);
- ``unprepare``: a claim the model holds as prepared;
- ``kill``: SIGKILL of the plugin;
- ``restart``: any operation that picks a dead node restarts it (only that plugin) and re-sends
  its pending prepares; a third of the restarts set ``HDRA_FAILPOINTS`` to a random prepare step, so the
  node's next prepare is killed mid-way and its claim stays pending, as the kubelet would retry it
  (one process start per kill keeps operations cheap);
- ``kubelet-restart``: the kubelet's start-up wipe of the node's slices (DELETE collection with
  ``spec.nodeName=<node>,spec.driver=mock.hdra.io``).

At the end every dead plugin is restarted, and ``check`` demands: the CDI specs, claim cache dirs
and checkpoint entries of each node are exactly the model's claims; every prepared claim's
allocation in the API names that node; every node's slices are back with all its cards.

Run: ``.venv/bin/python benchmarks/crash_run.py [--ops 3000] [--quick] [--seed N] [--json FILE]``.
It must never touch paths outside its temporary root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dra_driver.checkpoint import read_claims
from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.kubelet import FakeKubelet, KubeletCheckError, RegisteredPlugin
from dra_driver.kube import KubeClient
from dra_driver.kube.models import ResourceClaim
from dra_driver.prepare import ClaimRef
from dra_driver.prepare.failpoints import ENV_VAR, PREPARE_STEPS

DRIVER = "mock.hdra.io"
R = TypeVar("R")
CARDS = 4  # the a100x4 profile
START_TIMEOUT_S = 30.0
# Operation weights; an operation that picks a dead node is a restart instead.
WEIGHTS = {"prepare": 50, "unprepare": 35, "reprepare": 8, "kubelet-restart": 5, "kill": 2}
# A restart arms a prepare failpoint this often: the node's next prepare then dies mid-way.
ARM_PROBABILITY = 0.35
# Every this many operations without a kill, the next operation on a live node is a kill: short
# runs (CI) must crash something whatever the seed.
MAX_OPS_WITHOUT_KILL = 100


class CrashRunError(AssertionError):
    """The run found a leak, a lost claim or a failed operation; the message names it and the seed."""


@dataclass
class Node:
    name: str
    root: Path
    kubelet: FakeKubelet
    process: subprocess.Popen[bytes] | None = None
    prepared: dict[str, ClaimRef] = field(default_factory=dict)  # the model: uid -> claim
    armed: str | None = None  # the failpoint the running process was started with
    pending: list[ClaimRef] = field(default_factory=list)  # prepares cut short by a kill

    def argv(self, kubeconfig: Path) -> list[str]:
        return [
            sys.executable, "-m", "dra_driver.cli.main", "--log-level", "warning", "kubelet-plugin",
            "--kubeconfig", str(kubeconfig), "--node-name", self.name, "--backend", "mock",
            "--profile", "a100x4", "--mode", "capacity", "--resync-seconds", "60",
            "--plugin-dir", str(self.root / "plugins" / DRIVER),
            "--registry-dir", str(self.root / "registry"),
            "--cdi-dir", str(self.root / "cdi"), "--state-dir", str(self.root / "state"),
            "--library-dir", str(self.root / "lib"), "--lock-dir", str(self.root / "vgpulock"),
        ]  # fmt: skip

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def leftovers(self) -> dict[str, list[str]]:
        """Claim UIDs found on disk: CDI spec files, cache dirs, checkpoint entries."""
        cdi_dir, claims_dir = self.root / "cdi", self.root / "state" / "claims"
        return {
            "cdi": sorted(p.name for p in cdi_dir.glob("*")) if cdi_dir.exists() else [],
            "cache": sorted(p.name for p in claims_dir.iterdir()) if claims_dir.exists() else [],
            "checkpoint": sorted(read_claims(self.root / "state")),
        }


@dataclass
class Counts:
    ops: int = 0
    prepares: int = 0
    unprepares: int = 0
    kills: int = 0
    mid_prepare_kills: int = 0
    restarts: int = 0
    kubelet_restarts: int = 0
    reconnects: int = 0


class CrashRun:
    """Owns the cluster, the kubelets and the plugin processes of one run; use as a context manager."""

    def __init__(self, root: Path, seed: int, nodes: int = 4) -> None:
        self.root, self.seed = root, seed
        self.rng = random.Random(seed)  # reproducible: the seed replays the run
        self.counts = Counts()
        self.cluster = DevCluster()
        self.nodes = [self._node(f"crash-{i}") for i in range(nodes)]
        self._serial = 0
        self._last_kill_op = 0
        self.restart_seconds: list[float] = []

    def _node(self, name: str) -> Node:
        root = self.root / name
        return Node(name, root, FakeKubelet(root / "registry"))

    def __enter__(self) -> CrashRun:
        self.cluster.start()
        self.kubeconfig = self.cluster.write_kubeconfig(self.root / "kubeconfig")
        self.kube = KubeClient.from_kubeconfig(self.kubeconfig)
        for node in self.nodes:
            self.cluster.create_node(node.name)
            node.kubelet.start()
        befores = [(node, self._spawn(node)) for node in self.nodes]  # start all, then wait for all
        for node, before in befores:
            self._wait_registered(node, before)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
            node.kubelet.stop()
        self.kube.close()
        self.cluster.stop()

    def fail(self, message: str) -> CrashRunError:
        return CrashRunError(f"crash run seed={self.seed} after {self.counts.ops} ops: {message}")

    # --- processes -----------------------------------------------------------------------------

    def _spawn(self, node: Node, failpoint: str | None = None) -> RegisteredPlugin | None:
        before = node.kubelet.plugins.get(DRIVER)
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR} | {"PYTHONUNBUFFERED": "1"}
        if failpoint is not None:
            env[ENV_VAR] = failpoint
        node.root.mkdir(parents=True, exist_ok=True)
        with (node.root / "plugin.log").open("ab") as log:
            node.process = subprocess.Popen(node.argv(self.kubeconfig), stderr=log, env=env)
        return before

    def _wait_registered(self, node: Node, before: RegisteredPlugin | None) -> None:
        """Wait until the kubelet registered *this* process (a killed one leaves its socket behind)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            current = node.kubelet.plugins.get(DRIVER)
            if current is not None and current is not before:
                return
            if not node.alive:
                break
            time.sleep(0.02)
        raise self.fail(f"plugin of {node.name} did not register; log:\n{self._log_tail(node)}")

    def _log_tail(self, node: Node) -> str:
        log = node.root / "plugin.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    def _sigkill(self, node: Node) -> None:
        assert node.process is not None
        node.process.kill()
        node.process.wait()

    # --- claims --------------------------------------------------------------------------------

    def _new_claim(self, node: Node) -> ClaimRef:
        self._serial += 1
        name = f"claim-{self._serial:05d}"
        body = ResourceClaim.model_validate(
            {
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": DRIVER}}]}},
            }
        )
        data: dict[str, Any] = self.kube.resource_claims.create("default", body).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        consumed = {"memory": "256Mi", "cores": "1", "shares": "1"}
        result = {
            "request": "gpu",
            "driver": DRIVER,
            "pool": node.name,
            "device": f"gpu-{self._serial % CARDS}",
        }
        term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node.name]}]}
        data["status"] = {
            "allocation": {
                "devices": {
                    "results": [result | {"shareID": str(uuid.uuid4()), "consumedCapacity": consumed}]
                },
                "nodeSelector": {"nodeSelectorTerms": [term]},
            }
        }
        stored = self.kube.resource_claims.update_status("default", ResourceClaim.model_validate(data))
        assert stored.metadata is not None and stored.metadata.uid is not None
        return ClaimRef(stored.metadata.uid, "default", name)

    def _reconnecting(self, node: Node, call: Callable[[], R]) -> R:
        """Run a kubelet call on a live plugin; again (up to 3 times) when the fake kubelet dropped
        the registration under it. The fake kubelet polls the registry dir, so a socket that is
        unlinked, bound, started and chmod-ed by a starting plugin can look re-created after the
        plugin was registered (the real kubelet acts on create/remove events and ignores chmod);
        it then re-registers and closes the old channel. Prepare and unprepare are idempotent and
        the kubelet retries them too, so retrying on a *live* plugin hides nothing from the checks."""
        for attempt in range(3):
            try:
                return call()
            except KubeletCheckError as exc:
                transient = "Channel closed" in str(exc) or "is not registered" in str(exc)
                if not transient or not node.alive or attempt == 2:
                    raise
                self.counts.reconnects += 1
                node.kubelet.wait_for_plugin(DRIVER, timeout=START_TIMEOUT_S)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _prepare(self, node: Node, claim: ClaimRef) -> None:
        result = self._reconnecting(node, lambda: node.kubelet.prepare(DRIVER, [claim]))[claim.uid]
        if result.error:
            raise self.fail(f"prepare of {claim} on {node.name} failed: {result.error}")
        node.prepared[claim.uid] = claim
        self.counts.prepares += 1

    # --- operations ----------------------------------------------------------------------------

    def step(self) -> str:
        """One random operation; returns its name."""
        self.counts.ops += 1
        node = self.rng.choice(self.nodes)
        if not node.alive:
            self.restart(node)
            return "restart"
        op = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if self.counts.ops - self._last_kill_op >= MAX_OPS_WITHOUT_KILL:
            op = "kill"
        if (op == "unprepare" and not node.prepared) or (
            op == "reprepare" and (not node.prepared or node.armed)
        ):
            op = "prepare"
        if op == "prepare":
            claim = self._new_claim(node)
            if node.armed:
                self._die_mid_prepare(node, claim)
                return "kill-mid-prepare"
            self._prepare(node, claim)
        elif op == "reprepare":
            self._prepare(node, node.prepared[self.rng.choice(sorted(node.prepared))])
        elif op == "unprepare":
            claim = node.prepared.pop(self.rng.choice(sorted(node.prepared)))
            error = self._reconnecting(node, lambda: node.kubelet.unprepare(DRIVER, [claim]))[claim.uid].error
            if error:
                raise self.fail(f"unprepare of {claim} on {node.name} failed: {error}")
            self.counts.unprepares += 1
        elif op == "kubelet-restart":
            self.kube.resource_slices.delete_collection(
                field_selector=f"spec.nodeName={node.name},spec.driver={DRIVER}"
            )
            self.counts.kubelet_restarts += 1
        else:
            self._sigkill(node)
            self.counts.kills += 1
            self._last_kill_op = self.counts.ops
        return op

    def _die_mid_prepare(self, node: Node, claim: ClaimRef, retried: bool = False) -> None:
        """Send a prepare to a plugin armed with a failpoint: it must die on the way. A *retried*
        claim may answer instead: a kill after its checkpoint completed left it fully prepared, and
        a prepare of a prepared claim passes no failpoint."""
        try:
            results = node.kubelet.prepare(DRIVER, [claim], timeout=10.0)
        except Exception:
            node.pending.append(claim)  # any transport failure: the plugin died mid-call
        else:
            if not retried or results[claim.uid].error:
                raise self.fail(
                    f"prepare of {claim} on {node.name} answered {results[claim.uid]} "
                    f"despite failpoint {node.armed}"
                )
            node.prepared[claim.uid] = claim
            self.counts.prepares += 1
            return
        assert node.process is not None
        if node.process.wait(timeout=10.0) != -signal.SIGKILL:
            raise self.fail(
                f"plugin of {node.name} exited {node.process.returncode}, not by SIGKILL at {node.armed}"
            )
        self.counts.kills += 1
        self.counts.mid_prepare_kills += 1
        self._last_kill_op = self.counts.ops

    def restart(self, node: Node, arm: bool = True) -> None:
        """Start only this plugin; the kubelet then re-sends the prepares the kill cut short."""
        failpoint = None
        if arm and self.rng.random() < ARM_PROBABILITY:
            failpoint = self.rng.choice(PREPARE_STEPS)
        started = time.perf_counter()
        self._wait_registered(node, self._spawn(node, failpoint))
        self.restart_seconds.append(time.perf_counter() - started)
        node.armed = failpoint
        self.counts.restarts += 1
        while node.pending and node.alive:
            claim = node.pending.pop(0)
            if node.armed:
                self._die_mid_prepare(node, claim, retried=True)  # dies again, or was already done
            else:
                self._prepare(node, claim)

    # --- the end -------------------------------------------------------------------------------

    def finish(self) -> None:
        for node in self.nodes:
            if not node.alive:
                self.restart(node, arm=False)

    def check(self, timeout: float = 30.0) -> dict[str, int]:
        """Raise CrashRunError unless disk, model and API agree and every slice is back."""
        for node in self.nodes:
            self._check_slices(node, timeout)
            want = sorted(node.prepared)
            found = node.leftovers()
            specs_per_claim = {uid: [n for n in found["cdi"] if uid in n] for uid in want}
            unexplained = [n for n in found["cdi"] if not any(uid in n for uid in want)]
            if found["cache"] != want or found["checkpoint"] != want or unexplained:
                raise self.fail(f"{node.name}: model {want} but on disk {found}")
            if any(len(specs) != 1 for specs in specs_per_claim.values()):
                raise self.fail(f"{node.name}: CDI specs per claim {specs_per_claim}")
            for claim in node.prepared.values():
                self._check_api(node, claim)
        leaks = 0  # every mismatch above raised: reaching here means zero leaked files or entries
        return {"leaks": leaks, "prepared": sum(len(node.prepared) for node in self.nodes)}

    def _check_slices(self, node: Node, timeout: float) -> None:
        selector = f"spec.nodeName={node.name},spec.driver={DRIVER}"
        deadline = time.monotonic() + timeout
        devices = -1
        while time.monotonic() < deadline:
            stored = self.kube.resource_slices.list(field_selector=selector).items
            devices = sum(len(s.spec.devices or []) for s in stored if s.spec is not None)
            if devices == CARDS:
                return
            time.sleep(0.05)
        raise self.fail(f"{node.name}: {devices} devices in its slices, not {CARDS}, after {timeout} s")

    def _check_api(self, node: Node, claim: ClaimRef) -> None:
        stored = self.kube.resource_claims.get(claim.namespace, claim.name)
        uid = stored.metadata.uid if stored.metadata is not None else None
        allocation = stored.status.allocation if stored.status is not None else None
        if uid != claim.uid or allocation is None or allocation.devices is None:
            raise self.fail(
                f"{node.name}: prepared {claim} but the API has uid {uid}, allocation {allocation}"
            )
        pools = {r.pool for r in allocation.devices.results or []}
        selector = allocation.node_selector
        names = {
            v
            for term in (selector.node_selector_terms if selector is not None else [])
            for f in term.match_fields or []
            for v in f.values or []
        }
        if pools != {node.name} or names != {node.name}:
            raise self.fail(
                f"{node.name}: prepared {claim} but it is allocated to pools {pools}, nodes {names}"
            )


def run(ops: int, seed: int, nodes: int = 4, progress: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hdra-crash-") as tmp, CrashRun(Path(tmp), seed, nodes) as crash:
        setup = time.perf_counter() - started
        for i in range(ops):
            crash.step()
            if progress and (i + 1) % 500 == 0:
                print(f"  {i + 1} ops", file=sys.stderr)
        crash.finish()
        final = crash.check()
        elapsed = time.perf_counter() - started - setup
    counts = crash.counts
    return {
        "seed": seed,
        "nodes": nodes,
        "ops": counts.ops,
        "seconds": round(elapsed, 2),
        "ops_per_s": round(counts.ops / elapsed, 1),
        "prepares": counts.prepares,
        "unprepares": counts.unprepares,
        "kills": counts.kills,
        "mid_prepare_kills": counts.mid_prepare_kills,
        "restarts": counts.restarts,
        "kubelet_restarts": counts.kubelet_restarts,
        "kubelet_reconnects": counts.reconnects,
        "restart_median_s": round(statistics.median(crash.restart_seconds), 2)
        if crash.restart_seconds
        else 0.0,
        "prepared_at_end": final["prepared"],
        "final_leaks": final["leaks"],
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        ("ops", result["ops"]),
        ("seconds", result["seconds"]),
        ("ops/s", result["ops_per_s"]),
        ("kills (mid-prepare)", f"{result['kills']} ({result['mid_prepare_kills']})"),
        ("restarts", result["restarts"]),
        ("restart median s", result["restart_median_s"]),
        ("kubelet restarts", result["kubelet_restarts"]),
        ("kubelet reconnects", result["kubelet_reconnects"]),
        ("prepares / unprepares", f"{result['prepares']} / {result['unprepares']}"),
        ("final leaks", result["final_leaks"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"crash run: {result['nodes']} node plugins, seed {result['seed']}"]
    lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=3000, help="random operations (default 3000)")
    parser.add_argument("--quick", action="store_true", help="300 operations, as CI runs")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run (default: random)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    try:
        result = run(300 if args.quick else args.ops, seed, progress=True)
    except CrashRunError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
