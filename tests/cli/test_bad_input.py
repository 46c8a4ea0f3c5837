"""Bad input to any sub-command is one ``hdra: <cause>`` line on stderr and exit code 1, never a
Python traceback (issue 18 items 3 and 10).

Every command runs in-process through ``dra_driver.cli.main.main``: an exception escaping it fails
the test, which is exactly the traceback a user would have seen.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dra_driver.cli.main import main
from tests.sim.builders import mock_slices


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1, err
    assert lines[0].startswith("hdra: "), err
    assert "Traceback" not in err
    return lines[0]


# Each kubeconfig case: how to write the file, and what the one line must say about it.
KUBECONFIGS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "malformed-yaml": (
        lambda d: _write(d / "kc", b"garbage: [\n"),
        "is not readable YAML: line 2 column 1: expected the node content",
    ),
    "binary": (lambda d: _write(d / "kc", b"\xff\xfe"), "is not readable YAML: byte 0 is not utf-8"),
    "a-list": (lambda d: _write(d / "kc", b"- a\n- b\n"), "expected a mapping at the top"),
    "no-contexts": (
        lambda d: _write(d / "kc", b"apiVersion: v1\nkind: Config\n"),
        "has no current-context, and no context was given",
    ),
    "missing": (lambda d: d / "absent", "does not exist or is not a file"),
    "a-directory": (lambda d: d, "does not exist or is not a file"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _commands(kc: Path, tmp: Path) -> dict[str, list[str]]:
    cert = _write(tmp / "cert.pem", b"")
    dirs = [f"--{name}-dir={tmp / name}" for name in ("plugin", "registry", "cdi", "state")]
    return {
        "simulate": ["simulate", "--kubeconfig", str(kc)],
        "explain": ["explain", "--kubeconfig", str(kc), "default/x"],
        "top": ["top", "--kubeconfig", str(kc), "--once"],
        "controller": ["controller", "--kubeconfig", str(kc), "--port", "0"],
        "webhook": ["webhook", "--kubeconfig", str(kc), "--tls-cert", str(cert), "--tls-key", str(cert)],
        "kubelet-plugin": ["kubelet-plugin", "--kubeconfig", str(kc), "--node-name", "n1", *dirs],
    }


@pytest.mark.parametrize("case", sorted(KUBECONFIGS))
@pytest.mark.parametrize("command", ["simulate", "explain", "top", "controller", "webhook", "kubelet-plugin"])
def test_every_command_gives_the_same_one_line_kubeconfig_error(
    command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = KUBECONFIGS[case]
    kc = make(tmp_path)
    line = _one_line_error(_commands(kc, tmp_path)[command], capsys)
    assert line.startswith(f"hdra: kubeconfig {kc} "), line
    assert expected in line


@pytest.mark.parametrize("flag", ["--claims", "--slices"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe", "is not UTF-8 text: byte 0 is not utf-8"),
        (b"kind: [\n", "is neither YAML nor JSON: line 2 column 1"),
        (b"42\n", "document 1 is a int, not a Kubernetes object"),
    ],
)
def test_simulate_names_an_unreadable_file(
    flag: str, content: bytes, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "bad.yaml", content)
    good = _write(tmp_path / "empty.yaml", b"")
    files = {"--claims": good, "--slices": good, flag: bad}
    argv = ["simulate", "--slices", str(files["--slices"]), "--claims", str(files["--claims"])]
    line = _one_line_error(argv, capsys)
    assert f"{bad} {expected}" in line


def test_explain_names_a_binary_claim_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path / "claim.bin", b"\xff\xfe")
    slices = tmp_path / "slices.yaml"
    slices.write_text(yaml.safe_dump_all(mock_slices("n1", "a100x4")))
    line = _one_line_error(["explain", "--slices", str(slices), "--claim", str(bad)], capsys)
    assert f"{bad} is not UTF-8 text" in line


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--port", "99999"], "--port: 99999 is not a TCP port (0-65535)"),
        (["--port", "-1"], "--port: -1 is not a TCP port (0-65535)"),
        (["--nodes", "Bad_Node"], "node 'Bad_Node': Node \"Bad_Node\" is invalid: metadata.name"),
        (["--nodes", "a,b,a"], "--nodes: a listed more than once"),
        (["--kubeconfig", "/"], "cannot write the kubeconfig /: Is a directory: /"),
    ],
)
def test_devcluster_refuses_bad_flags_in_one_line(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_line_error(["devcluster", "--kubeconfig", str(tmp_path / "kc"), *flags], capsys)
    assert line == f"hdra: {expected}" or line.startswith(f"hdra: {expected}"), line


def test_devcluster_names_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["devcluster", "--kubeconfig", str(tmp_path / "kc"), "--port", str(port)]
        line = _one_line_error(argv, capsys)
    assert line == f"hdra: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "kc").exists()


def test_webhook_refuses_a_non_positive_template_grace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = _write(tmp_path / "cert.pem", b"")
    argv = ["webhook", "--tls-cert", str(cert), "--tls-key", str(cert), "--template-grace-seconds", "0"]
    assert _one_line_error(argv, capsys) == "hdra: --template-grace-seconds: 0 must be positive"


@pytest.mark.parametrize(
    "argv",
    [
        ["discover", "--profile", "h200x8", "-o", "yaml"],
        ["simulate", "--slices", "SLICES", "--claims", "CLAIMS"],
    ],
)
def test_a_closed_stdout_ends_the_command_quietly(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 19: ``hdra simulate ... | head`` printed a BrokenPipeError traceback."""
    slices = tmp_path / "slices.yaml"
    slices.write_text(yaml.safe_dump_all(mock_slices("n1", "a100x4")))
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": "c", "namespace": "default"},
                "spec": {
                    "devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "mock.hdra.io"}}]}
                },
            }
        )
    )
    argv = [str(slices) if a == "SLICES" else str(claims) if a == "CLAIMS" else a for a in argv]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    with os.fdopen(write_end, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(argv) == 141
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/metrics", "http:///metrics", "/etc/passwd"])
def test_top_reads_only_http_metrics_urls(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 19: ``--metrics-url file:///etc/passwd`` printed the file."""
    argv = ["top", "--kubeconfig", str(tmp_path / "absent"), "--once", "--metrics-url", url]
    assert _one_line_error(argv, capsys) == (
        f"hdra: --metrics-url {url}: only http:// and https:// URLs of a node plugin are read"
    )
