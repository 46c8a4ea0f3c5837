"""Benchmark: the admission webhook converting HAMi-style pods over HTTPS against the dev cluster.

Measures, each as the median of ``--repeat`` runs on a fresh dev cluster and webhook:
- ``mutate``: ``--admissions`` AdmissionReviews of a typical HAMi pod (``nvidia.com/gpu: 1``,
  ``gpumem: 3000``, ``gpucores: 30``, ``use-gputype: A100``; a new pod name each time, as a
  Deployment's replicas) POSTed to ``/mutate`` one after another on one keep-alive TLS connection:
  admissions per second and p50/p99 latency. The webhook runs as ``hdra webhook`` does, with its
  watches of namespaces, generated templates and slices (timing starts once their first lists are
  in): the first admission creates the content-hashed ResourceClaimTemplate in the dev cluster, the
  others find it in the template watch;
- ``mutate-percentage``: the same with ``gpumem-percentage: 50``, which also needs the driver's
  cards (one node, mock profile "mixed": 40, 32 and 141 GiB cards) from the slice watch;
- ``validate``: the typical pod as ``/mutate`` converted it, POSTed to ``/validate`` (the pod
  check reads the spec of the template it names, from the template watch);
- ``healthz``: ``GET /healthz`` on the same kind of connection — the in-run baseline (TLS, HTTP and
  threading cost without any admission work) the admissions are compared against.

Run: ``.venv/bin/python benchmarks/webhook.py [--admissions 2000] [--repeat 3] [--quick]``.
Needs the ``openssl`` command to make a self-signed certificate.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dra_driver.controller import SlicePublisher
from dra_driver.devcluster import DevCluster
from dra_driver.devices import make_backend
from dra_driver.kube import KubeClient
from dra_driver.slices import SharingMode
from dra_driver.webhook import WEBHOOK_RETRY, WebhookServer, apply_patch

NODE = "bench-node"
WARMUP = 20


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("benchmarks/webhook.py needs the openssl command to make a test certificate")
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _pod(limits: dict[str, str], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": {"nvidia.com/use-gputype": "A100"}},
        "spec": {"containers": [{"name": "main", "image": "busybox", "resources": {"limits": limits}}]},
    }


def _review(limits: dict[str, str], name: str, pod: dict[str, Any] | None = None) -> bytes:
    pod = pod if pod is not None else _pod(limits, name)
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default",
        "name": name,
        "operation": "CREATE",
        "object": pod,
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def _timed(count: int, call: Callable[[int], None]) -> dict[str, float]:
    for i in range(WARMUP):
        call(-1 - i)
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(count):
        began = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - began)
    total = time.perf_counter() - start
    latencies.sort()
    return {
        "per_s": count / total,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def _one_run(admissions: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, DevCluster() as cluster:
        kube = KubeClient.from_kubeconfig(
            cluster.write_kubeconfig(Path(tmp) / "kubeconfig"), retry=WEBHOOK_RETRY
        )
        cluster.create_node(NODE)
        devices = make_backend("mock", node_name=NODE, profile="mixed").discover()
        SlicePublisher(
            kube, driver="nvidia.hdra.io", node_name=NODE, devices=lambda: devices, mode=SharingMode.CAPACITY
        ).sync()
        cert, key = _certificate(Path(tmp))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(cert))
        with WebhookServer(cert, key, host="127.0.0.1", port=0, kube=kube) as server:
            if server.state is None or not server.state.wait_ready(30.0):
                raise SystemExit("the webhook's watches did not finish their first lists within 30 s")
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=30)

            def admit(limits: dict[str, str], tag: str) -> Callable[[int], None]:
                def call(i: int) -> None:
                    conn.request(
                        "POST",
                        "/mutate",
                        body=_review(limits, f"{tag}-{i}"),
                        headers={"Content-Type": "application/json"},
                    )
                    answer: dict[str, Any] = json.loads(conn.getresponse().read())
                    response = answer["response"]
                    if not response["allowed"] or "patch" not in response:
                        raise SystemExit(f"unexpected answer: {response}")

                return call

            def converted(limits: dict[str, str]) -> dict[str, Any]:
                """The pod as the API server stores it after /mutate (what /validate is sent)."""
                conn.request("POST", "/mutate", body=_review(limits, "converted"))
                answer: dict[str, Any] = json.loads(conn.getresponse().read())
                patch = json.loads(base64.b64decode(answer["response"]["patch"]))
                stored: dict[str, Any] = apply_patch(_pod(limits, "converted"), patch)
                return stored

            def validate(pod: dict[str, Any]) -> Callable[[int], None]:
                def call(i: int) -> None:
                    pod["metadata"]["name"] = f"validated-{i}"
                    conn.request(
                        "POST",
                        "/validate",
                        body=_review({}, pod["metadata"]["name"], pod),
                        headers={"Content-Type": "application/json"},
                    )
                    answer: dict[str, Any] = json.loads(conn.getresponse().read())
                    if not answer["response"]["allowed"]:
                        raise SystemExit(f"unexpected answer: {answer['response']}")

                return call

            def healthz(i: int) -> None:
                conn.request("GET", "/healthz")
                if conn.getresponse().read() != b"ok":
                    raise SystemExit("unexpected /healthz answer")

            typical = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000", "nvidia.com/gpucores": "30"}
            percentage = {"nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "50"}
            result = {
                "mutate": _timed(admissions, admit(typical, "typical")),
                "mutate-percentage": _timed(admissions, admit(percentage, "pct")),
                "validate": _timed(admissions, validate(converted(typical))),
                "healthz": _timed(admissions, healthz),
            }
            conn.close()
        templates = len(kube.resource_claim_templates.list("default").items)
        if templates != 2:
            raise SystemExit(f"expected 2 shared ResourceClaimTemplates, found {templates}")
        kube.close()
    return result


def run(admissions: int, repeat: int, progress: bool = True) -> dict[str, Any]:
    samples = []
    for i in range(repeat):
        if progress:
            print(f"  run {i + 1}/{repeat}: {admissions} admissions per scenario", file=sys.stderr)
        samples.append(_one_run(admissions))
    result: dict[str, Any] = {"admissions": admissions, "runs": repeat, "samples": samples}
    for scenario in samples[0]:
        for metric in ("per_s", "p50_ms", "p99_ms"):
            result[f"{scenario}_{metric}"] = statistics.median(s[scenario][metric] for s in samples)
    result["mutate_vs_healthz_rate"] = result["mutate_per_s"] / result["healthz_per_s"]
    return result


def table(result: dict[str, Any]) -> str:
    header = f"{'scenario':<36}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  {'rate vs healthz':>15}"
    lines = [header, "-" * len(header)]
    labels = {
        "mutate": "mutate: typical HAMi pod (gpumem)",
        "mutate-percentage": "mutate: gpumem-percentage (slices)",
        "validate": "validate: the converted typical pod",
        "healthz": "baseline: GET /healthz",
    }
    for scenario, label in labels.items():
        rate, p50, p99 = (result[f"{scenario}_{m}"] for m in ("per_s", "p50_ms", "p99_ms"))
        ratio = rate / result["healthz_per_s"]
        lines.append(f"{label:<36}  {rate:>8.0f}  {p50:>7.2f}  {p99:>7.2f}  {ratio:>15.2f}")
    lines.append(
        f"(median of {result['runs']} run(s), {result['admissions']} requests per scenario, "
        "one TLS keep-alive connection)"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--admissions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small run for CI: 200 admissions, 1 run")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.admissions, args.repeat = 200, 1
    result = run(args.admissions, args.repeat)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
