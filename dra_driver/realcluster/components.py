"""The command lines of the four components, as upstream's integration tests and envtest run them.

Owns: every flag handed to etcd, kube-apiserver, kube-controller-manager and kube-scheduler, and
why it is there (reference/real-cluster.md section 3). Every component gets the same
``--feature-gates``. It must never start a process or touch a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dra_driver.realcluster.certs import Pki

SERVICE_CIDR = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# The node-lifecycle controller is left out on purpose: it would mark kubelet-less Nodes unreachable.
CONTROLLERS = ("resourceclaim-controller", "garbage-collector-controller")
# ServiceAccount: no serviceaccount controller runs, so no pod could be admitted. TaintNodesByCondition:
# it taints every new Node not-ready and only the node-lifecycle controller would remove the taint.
DISABLED_ADMISSION = ("ServiceAccount", "TaintNodesByCondition")


def gates_flag(gates: Mapping[str, bool]) -> list[str]:
    """``--feature-gates=A=true,B=false`` (sorted), or nothing for the release defaults."""
    if not gates:
        return []
    text = ",".join(f"{name}={'true' if on else 'false'}" for name, on in sorted(gates.items()))
    return [f"--feature-gates={text}"]


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


def etcd_args(data_dir: Path, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        "etcd",
        "--name=hdra",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=hdra={peer}",
        "--unsafe-no-fsync",  # test data: losing it on a crash is fine, fsync on a busy disk is not
        "--log-level=warn",
    ]


def apiserver_args(pki: Pki, ports: Ports, cert_dir: Path, gates: Mapping[str, bool]) -> list[str]:
    return [
        "kube-apiserver",
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={cert_dir}",
        f"--tls-cert-file={pki.serving.cert}",
        f"--tls-private-key-file={pki.serving.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.service_account_public}",
        f"--service-account-signing-key-file={pki.service_account_private}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Otherwise it keeps publishing 127.0.0.1 as the endpoint of the kubernetes Service.
        "--endpoint-reconciler-type=none",
        f"--disable-admission-plugins={','.join(DISABLED_ADMISSION)}",
        "--allow-privileged=true",
        "--profiling=false",
        *gates_flag(gates),
    ]


def controller_manager_args(
    kubeconfig: Path, ports: Ports, cert_dir: Path, gates: Mapping[str, bool]
) -> list[str]:
    return [
        "kube-controller-manager",
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--controllers={','.join(CONTROLLERS)}",
        # No token controller runs, so the controllers share the manager's own (admin) identity.
        "--use-service-account-credentials=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={cert_dir}",
        "--profiling=false",
        *gates_flag(gates),
    ]


def scheduler_config(
    kubeconfig: Path, extender_port: int | None, client_qps: float | None = None
) -> dict[str, Any]:
    """The KubeSchedulerConfiguration: no leader election, and hdra's extender as the chart documents it.

    ``client_qps`` lifts the scheduler's client-side API rate limit (default 50 requests/s, bursts
    of 100): a benchmark of the scheduler's own cost sets it, so that it does not measure the limit.

    The extender entry is the one of charts/hdra/README.md ("Node-level binpack / spread"), pointed
    at ``http://127.0.0.1:<extender_port>``; ``ignorable: true`` keeps scheduling going while no
    ``hdra controller`` listens there.
    """
    config: dict[str, Any] = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)}
        | ({"qps": client_qps, "burst": int(client_qps * 2)} if client_qps is not None else {}),
        "leaderElection": {"leaderElect": False},
    }
    if extender_port is not None:
        config["extenders"] = [
            {
                "urlPrefix": f"http://127.0.0.1:{extender_port}",
                "prioritizeVerb": "prioritize",
                "weight": 1,
                "nodeCacheCapable": True,
                "ignorable": True,
                "httpTimeout": "5s",
            }
        ]
    return config


def scheduler_args(config: Path, ports: Ports, cert_dir: Path, gates: Mapping[str, bool]) -> list[str]:
    return [
        "kube-scheduler",
        f"--config={config}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={cert_dir}",
        "--profiling=false",
        *gates_flag(gates),
    ]
