"""Dev cluster conformance (issue 12, "Dev cluster conformance").

Every case of ``corpus.CASES`` is sent to the real kube-apiserver and to the dev cluster (release
1.36 defaults on both); the answers are compared by status code, and for the objects hdra writes
also by what the server made of them (quantities re-spelled canonically, ``allocationMode``,
``count`` and toleration ``operator`` defaulted). The agreement table is printed at the end of
the run. On every case marked ``hdra`` (what hdra itself writes or reads) the two must agree; the
others must agree or be one of ``KNOWN_DIFFERENCES``, which the dev cluster's docstring lists.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.realcluster import RealCluster
from tests.realcluster.corpus import CASES, Case
from tests.support.realcluster import RealScope, report_table

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

GROUP = "/apis/resource.k8s.io/v1"
NAMESPACED = {"resourceclaims", "resourceclaimtemplates"}

# Cases the dev cluster answers differently on purpose (see dra_driver/devcluster/__init__.py).
KNOWN_DIFFERENCES = {
    "class: CEL that is not boolean",  # no CEL type checking in the dev cluster
    "class: CEL naming an unknown field",
}


@dataclass
class Server:
    base: str
    namespace: str
    context: ssl.SSLContext | None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")

    def collection(self, kind: str) -> str:
        return f"{GROUP}/namespaces/{self.namespace}/{kind}" if kind in NAMESPACED else f"{GROUP}/{kind}"

    def send(self, case: Case) -> tuple[int, Any]:
        """Create the case's object (then PUT its status for a status case); delete it afterwards."""
        obj = json.loads(json.dumps(case.obj))
        name = obj["metadata"]["name"]
        status = obj.pop("status", None)
        code, answer = self.call("POST", self.collection(case.kind), obj)
        try:
            if case.status and code == 201:
                answer["status"] = status
                code, answer = self.call("PUT", f"{self.collection(case.kind)}/{name}/status", answer)
            return code, answer
        finally:
            self.call("DELETE", f"{self.collection(case.kind)}/{name}")


def _real(cluster: RealCluster, namespace: str) -> Server:
    context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
    admin_cert = cluster.work_dir / "pki" / "admin.crt"
    context.load_cert_chain(str(admin_cert), str(admin_cert.with_suffix(".key")))
    return Server(cluster.url, namespace, context)


@pytest.fixture
def dev() -> Iterator[Server]:
    with DevCluster() as cluster:
        yield Server(cluster.url, "default", None)


def _made_of(case: Case, answer: Any) -> Any:
    """What the server stored of the fields the corpus probes for canonical spelling and defaults."""
    if not isinstance(answer, dict) or "spec" not in answer:
        return None
    if "canonical" in case.tags:
        if case.kind == "resourceslices":
            return [d["capacity"]["memory"]["value"] for d in answer["spec"]["devices"]]
        return answer["spec"]["devices"]["requests"][0]["exactly"]["capacity"]["requests"]["memory"]
    if "defaults" in case.tags:
        exactly = answer["spec"]["devices"]["requests"][0]["exactly"]
        tolerations = [t.get("operator") for t in exactly.get("tolerations", [])]
        return exactly.get("allocationMode"), exactly.get("count"), tolerations
    return None


def test_the_dev_cluster_agrees_with_the_real_apiserver(real_scope: RealScope, dev: Server) -> None:
    real = _real(real_scope.cluster, real_scope.namespace)
    rows: list[tuple[str, ...]] = []
    wrong: list[str] = []
    for case in CASES:
        real_code, real_answer = real.send(case)
        dev_code, dev_answer = dev.send(case)
        made_real, made_dev = _made_of(case, real_answer), _made_of(case, dev_answer)
        agree = real_code == dev_code and made_real == made_dev
        shown_real = f"{real_code} {made_real}" if made_real is not None else str(real_code)
        shown_dev = f"{dev_code} {made_dev}" if made_dev is not None else str(dev_code)
        rows.append((case.name, "yes" if case.hdra else "", shown_real, shown_dev, "yes" if agree else "no"))
        if not agree and (case.hdra or case.name not in KNOWN_DIFFERENCES):
            message = real_answer.get("message") if isinstance(real_answer, dict) else real_answer
            wrong.append(f"{case.name}: real {shown_real} ({message}), dev {shown_dev}")
    hdra = [row for row in rows if row[1]]
    agreed = sum(row[-1] == "yes" for row in rows)
    hdra_agreed = sum(row[-1] == "yes" for row in hdra)
    rows.append(
        (
            f"TOTAL {agreed}/{len(rows)} agree; hdra's objects {hdra_agreed}/{len(hdra)}",
            "",
            "",
            "",
            "",
        )
    )
    report_table(
        "dev cluster conformance: real kube-apiserver v1.36.3 vs dev cluster",
        ("case", "hdra", "real", "dev cluster", "agree"),
        rows,
    )
    assert not wrong, "the dev cluster disagrees with the real API server:\n" + "\n".join(wrong)
