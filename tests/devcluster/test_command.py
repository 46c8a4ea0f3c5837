"""``serve``: the foreground dev cluster process announces ``ready <url>`` and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.devcluster_fixtures import raw

SCRIPT = """
import sys
from pathlib import Path
from dra_driver.devcluster.command import serve
from dra_driver.kube.features import KubeVersion, parse_feature_gates
version = KubeVersion(1, 35)
gates = parse_feature_gates("DRAConsumableCapacity=true", version)
sys.exit(serve(Path(sys.argv[1]), 0, version, gates, ["node-a", "node-b"]))
"""


def test_serve_prints_ready_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "nested" / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ready http://127.0.0.1:"), line
        url = line.split()[1]
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == url
        assert config["current-context"] == config["contexts"][0]["name"]
        nodes = raw(url, "GET", "/api/v1/nodes").json()
        assert [n["metadata"]["name"] for n in nodes["items"]] == ["node-a", "node-b"]
        assert raw(url, "GET", "/version").json()["gitVersion"] == "v1.35.0-hdra"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout == ""  # exactly one line was printed
