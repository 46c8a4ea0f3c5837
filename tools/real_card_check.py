"""Check hdra's NVIDIA enforcement on a real card (issue 14, item 4) and record what it does.

Run as root on a machine with an NVIDIA GPU, hdra importable (``PYTHONPATH=<repo>``), PyTorch
installed, ``unshare`` and ``mount`` on the PATH, and a HAMi-core ``libvgpu.so`` built from its
source (this repository does not ship or build HAMi-core)::

    python tools/real_card_check.py all --library /path/libvgpu.so --out DIR

What ``all`` does, every step recorded into ``DIR/record.json`` as it finishes (a failing step
records its error and the rest still run):

1. ``discover``: what NVML says and what ``hdra discover --backend nvidia`` would publish;
2. ``prepare``: an embedded dev cluster, the real node plugin with the NVIDIA backend in
   ``capacity`` mode, a claim for ``--memory`` and ``--cores`` of one card placed by hdra's
   allocator and prepared over the plugin's gRPC socket; the CDI spec the plugin wrote is kept;
3. the CDI spec's env and mounts applied to test processes, each in new PID and mount namespaces
   (``unshare --pid --mount --fork``: what a container runtime gives a container): the memory cap
   (allocate until refused), bf16 matmul throughput and small-kernel launch rate uncapped, with
   HAMi-core loaded and no limits, and with the claim's SM limit, and two PID namespaces attached to
   one claim, first sharing one region file, then each with its own region (DESIGN §5);
4. the raw region files HAMi-core wrote, copied beside the record, and hdra's reading of them.

This script never changes GPU settings. Without a GPU it stops at step 1 with NVML's error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dra_driver.cdihook import region as region_hook
from dra_driver.cli.demo_nodes import start_node, stop_node
from dra_driver.cli.demo_run import run_workloads
from dra_driver.cli.demo_workloads import Workload
from dra_driver.devcluster import DevCluster
from dra_driver.interception import shared_region
from dra_driver.kube import KubeClient
from dra_driver.kube.features import DEFAULT_VERSION, parse_feature_gates
from dra_driver.sim import Policy
from dra_driver.slices import SharingMode, SliceOptions

MIB = 1 << 20


# --------------------------------------------------------------------------- probes (in the "container")


def _torch() -> Any:
    return importlib.import_module("torch")


def probe_memory(chunk_mib: int, hold_seconds: float, stop_mib: int) -> dict[str, Any]:
    """Allocate ``chunk_mib`` blocks until CUDA refuses (or ``stop_mib`` is reached); hold; report."""
    torch = _torch()
    torch.cuda.init()
    blocks: list[Any] = []
    allocated = 0
    error = ""
    started = time.monotonic()
    while stop_mib <= 0 or allocated + chunk_mib <= stop_mib:
        try:
            blocks.append(torch.empty(chunk_mib * MIB, dtype=torch.uint8, device="cuda"))
        except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
            error = str(exc).splitlines()[0][:300]
            break
        allocated += chunk_mib
        if allocated > 200 * 1024:  # never more than the card could hold; a cap that failed
            error = "stopped at 200 GiB without a refusal"
            break
    result = {
        "chunk_mib": chunk_mib,
        "allocated_mib": allocated,
        "refused": bool(error) and "stopped" not in error,
        "error": error,
        "seconds": round(time.monotonic() - started, 3),
        "pid_in_namespace": os.getpid(),
    }
    print(json.dumps(result), flush=True)
    if hold_seconds > 0:
        time.sleep(hold_seconds)
    del blocks
    return result


def probe_matmul(seconds: float, size: int) -> dict[str, Any]:
    """bf16 ``size``³ matmul throughput over ``seconds`` (after warm-up), and tiny-kernel launches/s."""
    torch = _torch()
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    count = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for _ in range(10):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        count += 10
    elapsed = time.monotonic() - started
    tflops = 2 * size**3 * count / elapsed / 1e12
    small = torch.zeros(16, device="cuda")
    launches = 0
    started = time.monotonic()
    while time.monotonic() - started < min(seconds, 3.0):
        for _ in range(1000):
            small.add_(1.0)
        torch.cuda.synchronize()
        launches += 1000
    launch_rate = launches / (time.monotonic() - started)
    result = {"size": size, "matmuls": count, "seconds": round(elapsed, 3), "tflops": round(tflops, 1)}
    result["small_kernel_launches_per_s"] = round(launch_rate)
    print(json.dumps(result), flush=True)
    return result


# --------------------------------------------------------------------------- the "container" side


def _spec_edits(spec: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """All env, mounts and hooks of a CDI spec (spec-level edits first, then each device's)."""
    env: dict[str, str] = {}
    mounts: list[dict[str, Any]] = []
    hooks: list[dict[str, Any]] = []
    edits = [spec.get("containerEdits") or {}] + [d.get("containerEdits") or {} for d in spec["devices"]]
    for edit in edits:
        for entry in edit.get("env") or []:
            key, _, value = entry.partition("=")
            env[key] = value
        mounts.extend(edit.get("mounts") or [])
        hooks.extend(edit.get("hooks") or [])
    return env, mounts, hooks


def _hooks_of(spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [hook for hook in _spec_edits(spec)[2] if hook.get("hookName") == name]


def _run_hooks(hooks: list[dict[str, Any]], container_id: str, pid: int) -> str:
    """Run CDI hooks as an OCI runtime does (state on stdin); the first failure's stderr, or ""."""
    bundle = Path(tempfile.mkdtemp(prefix="bundle-"))
    (bundle / "config.json").write_text(json.dumps({"root": {"path": "/"}}))
    state = {
        "ociVersion": "1.0.2",
        "id": container_id,
        "status": "created",
        "pid": pid,
        "bundle": str(bundle),
    }
    for hook in hooks:
        argv = hook.get("args") or [hook["path"]]
        done = subprocess.run(
            argv,
            executable=hook["path"],
            input=json.dumps(state),
            capture_output=True,
            text=True,
            timeout=hook.get("timeout") or 30,
            check=False,
            env=dict(entry.split("=", 1) for entry in hook.get("env") or []) or None,
        )
        if done.returncode != 0:
            return done.stderr.strip() or f"hook exited {done.returncode}"
    return ""


def container_exec(args: argparse.Namespace) -> int:  # noqa: RET503 - ends in exec
    """Inside fresh mount + PID namespaces: apply the spec's mounts and env, then exec the command."""
    spec = json.loads(Path(args.spec).read_text())
    env, mounts, _hooks = _spec_edits(spec)
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    for mount in mounts:
        host = Path(mount["hostPath"])
        target = Path(mount["containerPath"])
        if args.region_dir and target.as_posix().startswith("/usr/local/vgpu/") and host.is_dir():
            host = Path(args.region_dir)
        if host.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.touch()
        subprocess.run(["mount", "--bind", str(host), str(target)], check=True)
    if not args.region_dir:
        refusal = _run_hooks(_hooks_of(spec, "createContainer"), args.container_id, os.getpid())
        if refusal:
            print(json.dumps({"refused_by_hook": refusal}), flush=True)
            return 3
    if args.pid_namespace:  # the container's own /proc, mounted after the hooks as a runtime does
        subprocess.run(["mount", "-t", "proc", "proc", "/proc"], check=True)
    if args.no_preload:
        subprocess.run(["umount", "/etc/ld.so.preload"], check=False)
    child_env = dict(os.environ)
    child_env.update(env)
    for item in args.set_env:
        key, _, value = item.partition("=")
        if value:
            child_env[key] = value
        else:
            child_env.pop(key, None)
    os.execvpe(args.command[0], args.command, child_env)  # noqa: S606 - the probe, by design


# --------------------------------------------------------------------------- the host side


def _prepare(library: Path, root: Path, memory: str, cores: int, backend: str) -> dict[str, Any]:
    """Dev cluster + the real node plugin (NVIDIA backend, capacity mode); one claim prepared."""
    driver = "nvidia.hdra.io" if backend == "nvidia" else "mock.hdra.io"
    name = socket.gethostname().lower() or "gpu-node"
    claim = {
        "devices": {
            "requests": [
                {
                    "name": "gpu",
                    "exactly": {
                        "deviceClassName": driver,
                        "allocationMode": "ExactCount",
                        "count": 1,
                        "capacity": {"requests": {"memory": memory, "cores": str(cores)}},
                    },
                }
            ]
        }
    }
    with DevCluster(
        kube_version=DEFAULT_VERSION, feature_gates=parse_feature_gates("", DEFAULT_VERSION)
    ) as cluster:
        client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(root / "kubeconfig"))
        library_dir = root / name / "usr-local-hdra"
        library_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, library_dir / "libvgpu.so")
        (library_dir / "ld.so.preload").write_text("/usr/local/vgpu/libvgpu.so\n")
        shutil.copy2(Path(region_hook.__file__), library_dir / "hdra-cdi-hook.py")  # as the chart installs it
        node = start_node(
            cluster,
            client,
            root,
            name=name,
            backend=backend,
            profile=None if backend == "nvidia" else "a100x4",
            driver=driver,
            mode=SharingMode.CAPACITY,
            options=SliceOptions(kube_version=DEFAULT_VERSION),
        )
        try:
            workload = Workload(name="capped", description="one card share", claims={"share": claim})
            run = run_workloads(client, [node], workloads=[workload], policy=Policy("binpack"))
            pod = run.pods[0]
            specs = sorted(node.cdi_dir.glob("*.json"))
            return {
                "node": name,
                "devices": [d.model_dump(mode="json") for d in node.devices],
                "pod": {"status": pod.status, "reason": pod.reason, "node": pod.node},
                "claims": [
                    {"name": c.name, "env": c.env, "devices": [vars(d) for d in c.devices]}
                    for c in pod.claims
                ],
                "cdi_spec_files": [s.name for s in specs],
                "cdi_spec": json.loads(specs[0].read_text()) if specs else None,
                "claims_dir": str(root / name / "var-lib-hdra" / "claims"),
            }
        finally:
            stop_node(node)


def _in_container(
    spec_path: Path,
    probe: list[str],
    *,
    region_dir: Path | None = None,
    set_env: tuple[str, ...] = (),
    no_preload: bool = False,
    pid_namespace: bool = True,
    container_id: str = "",
) -> list[str]:
    """The command line that runs ``probe`` as a container of the claim would run."""
    # no --mount-proc: like a runtime's createContainer hook, hdra's hook reads the host's /proc
    namespaces = ["--pid", "--fork", "--kill-child"] if pid_namespace else []
    command = ["unshare", "--mount", *namespaces, sys.executable, str(Path(__file__).resolve()), "exec"]
    command += ["--spec", str(spec_path)]
    if pid_namespace:
        command.append("--pid-namespace")
    if region_dir is not None:
        command += ["--region-dir", str(region_dir)]
    if no_preload:
        command.append("--no-preload")
    if container_id:
        command += ["--container-id", container_id]
    for item in set_env:
        command += ["--set-env", item]
    return [*command, "--", sys.executable, str(Path(__file__).resolve()), *probe]


def _last_json(text: str) -> Any:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON result in the probe's output: {text[-500:]!r}")


def _run(command: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    out: dict[str, Any] = {"rc": done.returncode, "stderr_tail": done.stderr[-1500:]}
    try:
        out["result"] = _last_json(done.stdout)
    except ValueError as exc:
        out["error"] = str(exc)
    return out


def _region_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix == ".cache")


def _read_region(path: Path) -> Any:
    try:
        region = shared_region.read_shared_region(path)
    except shared_region.SharedRegionError as exc:
        return {"unreadable": str(exc)}
    return {
        "version": f"{region.major}.{region.minor}",
        "processes": region.processes,
        "devices": [vars(d) for d in region.devices],
    }


def run_all(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    root = Path(tempfile.mkdtemp(prefix="hdra-card-"))
    spec_path = root / "claim-spec.json"

    def step(name: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            record[name] = action()
        except Exception as exc:  # a failed step is recorded; the rest still run
            record[name] = {"failed": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        print(f"step {name}: {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
        (out / "record.json").write_text(json.dumps(record, indent=2, default=str))
        return record[name]

    def smi() -> str:
        query = "name,uuid,memory.total,driver_version,pci.bus_id,compute_cap"
        return subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    step("nvidia_smi", smi)
    fixture = [sys.executable, str(Path(__file__).with_name("record_nvml_fixture.py"))]
    step(
        "nvml_fixture",
        lambda: json.loads(subprocess.run(fixture, capture_output=True, text=True, check=True).stdout),
    )
    prepared = step(
        "prepare", lambda: _prepare(Path(args.library), root, args.memory, args.cores, args.backend)
    )
    spec = prepared.get("cdi_spec") if isinstance(prepared, dict) else None
    if not spec:
        print("no CDI spec was prepared; stopping after the host steps", file=sys.stderr)
        return 1
    spec_path.write_text(json.dumps(spec))
    claims_dir = Path(prepared["claims_dir"])
    cap_mib = int(prepared["claims"][0]["devices"][0]["memory_mib"])
    limits_off = ("CUDA_DEVICE_MEMORY_LIMIT_0=", "CUDA_DEVICE_SM_LIMIT_0=")
    seconds = str(args.seconds)

    def fresh(name: str) -> Path:
        """A new, empty region directory: every "container" below starts with no region file."""
        path = claims_dir / name
        path.mkdir(parents=True)
        return path

    def gpu_idle() -> None:
        """Wait until no earlier probe holds GPU memory (at most 30 s)."""
        deadline = time.monotonic() + 30
        while shutil.which("nvidia-smi") and time.monotonic() < deadline:
            used = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if used.isdigit() and int(used) < 2048:
                return
            time.sleep(0.5)

    def contained(name: str, probe: list[str], timeout: float, **options: Any) -> dict[str, Any]:
        gpu_idle()
        region = options.pop("region_dir", None) or fresh(name)
        result = _run(_in_container(spec_path, probe, region_dir=region, **options), timeout)
        result["regions"] = {p.name: _read_region(p) for p in _region_files(region)}
        return result

    matmul = ["probe", "matmul", "--seconds", seconds]
    force = ("GPU_CORE_UTILIZATION_POLICY=force",)
    step("matmul_uncapped", lambda: contained("m0", matmul, 120, no_preload=True))
    step("matmul_hami_no_limits", lambda: contained("m1", matmul, 120, set_env=limits_off))
    step("matmul_hami_sm_limit_default_policy", lambda: contained("m2", matmul, 180))
    step("matmul_hami_sm_limit_force_policy", lambda: contained("m3", matmul, 180, set_env=force))
    step(
        "matmul_hami_sm_limit_force_host_pid_namespace",
        lambda: contained("m4", matmul, 180, set_env=force, pid_namespace=False),
    )
    memory = ["probe", "memory", "--chunk-mib", "256"]
    step("memory_cap", lambda: contained("c1", memory, 180))
    step("memory_cap_64mib_chunks", lambda: contained("c2", ["probe", "memory", "--chunk-mib", "64"], 180))
    step(
        "memory_uncapped_to_cap_plus_4gib",
        lambda: contained("c0", [*memory, "--stop-mib", str(cap_mib + 4096)], 180, no_preload=True),
    )

    def two_namespaces(separate: bool) -> dict[str, Any]:
        """A holds what it can get; then B, in another PID namespace, takes what it can."""
        gpu_idle()
        tag = "separate" if separate else "shared"
        hold = ["probe", "memory", "--chunk-mib", "256", "--hold-seconds", "30"]
        dirs = [fresh(f"{tag}-a"), fresh(f"{tag}-b")] if separate else [fresh(tag)] * 2
        extra = (f"CUDA_DEVICE_MEMORY_LIMIT_0={cap_mib // 2}m",) if separate else ()
        a = subprocess.Popen(
            _in_container(spec_path, hold, region_dir=dirs[0], set_env=extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert a.stdout is not None
        first = a.stdout.readline()
        b = _run(_in_container(spec_path, memory, region_dir=dirs[1], set_env=extra), 120)
        files = sorted({p for d in dirs for p in _region_files(d)})
        regions = {str(p.relative_to(claims_dir)): _read_region(p) for p in files}
        for index, path in enumerate(files):
            shutil.copy2(path, out / f"region-{tag}-{index}.bin")
        a.kill()
        a.wait()
        return {"a": json.loads(first) if first.startswith("{") else first, "b": b, "regions": regions}

    def design() -> dict[str, Any]:
        """DESIGN §5 as built: hdra's CDI hooks give each PID namespace its own region, one at a time."""
        assert spec is not None
        attach = _hooks_of(spec, "createContainer")
        if not attach:
            return {
                "skipped": "the CDI spec has no createContainer hook (this hdra predates DESIGN §5's hooks)"
            }
        claim_dir = Path(attach[0]["args"][attach[0]["args"].index("--claim-dir") + 1])
        release = _hooks_of(spec, "poststop")
        gpu_idle()
        hold = ["probe", "memory", "--chunk-mib", "256", "--hold-seconds", "30"]
        a = subprocess.Popen(
            _in_container(spec_path, hold, container_id="ctr-a"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert a.stdout is not None
        first = a.stdout.readline()
        b = _run(_in_container(spec_path, memory, container_id="ctr-b"), 120)
        a.kill()
        a.wait()
        released_a = _run_hooks(release, "ctr-a", 0)
        gpu_idle()
        c = _run(_in_container(spec_path, memory, container_id="ctr-c"), 120)
        files = _region_files(claim_dir)
        regions = {str(p.relative_to(claim_dir)): _read_region(p) for p in files}
        for path in files:
            shutil.copy2(path, out / f"region-hook-{path.parent.name}.bin")
        released_c = _run_hooks(release, "ctr-c", 0)
        return {
            "a": json.loads(first) if first.startswith("{") else first,
            "b_second_pid_namespace_while_a_lives": b,
            "release_a": released_a or "ok",
            "c_after_a_released": c,
            "release_c": released_c or "ok",
            "regions": regions,
        }

    step("two_pid_namespaces_with_hdra_hooks", design)
    step("two_pid_namespaces_one_region", lambda: two_namespaces(separate=False))
    step("two_pid_namespaces_own_regions_half_limit_each", lambda: two_namespaces(separate=True))
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (out / "record.json").write_text(json.dumps(record, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command_name", required=True)
    every = sub.add_parser("all", help="run every step and write DIR/record.json")
    every.add_argument("--library", required=True, help="HAMi-core libvgpu.so built from its source")
    every.add_argument("--out", required=True)
    every.add_argument("--memory", default="16Gi")
    every.add_argument("--cores", type=int, default=50)
    every.add_argument("--seconds", type=float, default=8.0)
    every.add_argument("--backend", choices=["nvidia", "mock"], default="nvidia", help="mock: a dry run")
    run = sub.add_parser("exec", help="(inside unshare) apply a CDI spec's mounts and env, exec a command")
    run.add_argument("--spec", required=True)
    run.add_argument("--region-dir", default="")
    run.add_argument("--no-preload", action="store_true")
    run.add_argument("--container-id", default="probe")
    run.add_argument("--pid-namespace", action="store_true", help="mount a /proc for the new PID namespace")
    run.add_argument("--set-env", action="append", default=[])
    run.add_argument("command", nargs="+")
    probe = sub.add_parser("probe", help="a workload run inside the prepared 'container'")
    probe.add_argument("kind", choices=["memory", "matmul"])
    probe.add_argument("--chunk-mib", type=int, default=256)
    probe.add_argument("--hold-seconds", type=float, default=0.0)
    probe.add_argument("--stop-mib", type=int, default=0)
    probe.add_argument("--seconds", type=float, default=8.0)
    probe.add_argument("--size", type=int, default=8192)
    args = parser.parse_args(argv)
    if args.command_name == "all":
        return run_all(args)
    if args.command_name == "exec":
        return container_exec(args)
    if args.kind == "memory":
        probe_memory(args.chunk_mib, args.hold_seconds, args.stop_mib)
    else:
        probe_matmul(args.seconds, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
