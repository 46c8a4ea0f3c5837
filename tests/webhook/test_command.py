"""``hdra webhook`` as a real process: ready line, HTTPS health check, clean exit on SIGTERM, flag errors.

``dra_driver/cli/main.py`` registers the sub-command; here a minimal parser built from
``dra_driver.cli.webhook.add_parser`` stands in, so the module is exercised exactly as main uses it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import Process
from tests.webhook.support import CertPair, client_context, connect

RUNNER = """
import argparse, sys
from dra_driver.cli import webhook
from dra_driver.cli.common import CommandError
parser = argparse.ArgumentParser(prog="hdra")
webhook.add_parser(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
try:
    sys.exit(args.run(args))
except CommandError as exc:
    print(f"hdra: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def test_webhook_process_serves_until_sigterm(certs: CertPair, kubeconfig: Path, tmp_path: Path) -> None:
    argv = [
        sys.executable,
        "-c",
        RUNNER,
        "webhook",
        "--tls-cert",
        str(certs.cert),
        "--tls-key",
        str(certs.key),
    ]
    argv += ["--port", "0", "--host", "127.0.0.1", "--kubeconfig", str(kubeconfig)]
    process = Process(argv, tmp_path / "webhook.log")
    try:
        assert process.proc.stdout is not None
        line = process.proc.stdout.readline()
        assert line.startswith("ready https://127.0.0.1:"), (line, process.log.read_text())
        port = int(line.strip().rsplit(":", 1)[1])
        conn = connect(port, client_context(certs))
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"ok"
        conn.close()
    finally:
        code = process.terminate()
    assert code == 0, process.log.read_text()


def test_bad_certificate_is_a_one_line_error(kubeconfig: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    argv = [sys.executable, "-c", RUNNER, "webhook", "--tls-cert", str(cert), "--tls-key", str(key)]
    done = subprocess.run(
        [*argv, "--port", "0", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"hdra: cannot load certificate {cert} with key {key}")
