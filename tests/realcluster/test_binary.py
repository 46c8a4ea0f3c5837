"""The hdra-k8s build cache: the key, the no-op second build, and the errors a missing binary gives.

These run without Go and without the binary: they use a copy of ``tools/k8s``'s key files in a
temporary module and a temporary cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dra_driver.realcluster import binary, components
from dra_driver.realcluster.errors import RealClusterError

MODULE = binary.default_module_dir()


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "k8s"
    for path in binary.key_files(MODULE):
        target = copy / path.relative_to(MODULE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    monkeypatch.setenv(binary.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(binary.BINARY_ENV, raising=False)
    return copy


def test_the_module_pins_kubernetes_and_every_key_file_exists() -> None:
    go_mod = (MODULE / "go.mod").read_text()
    assert f"k8s.io/kubernetes {binary.KUBERNETES_VERSION}" in go_mod
    assert "k8s.io/api => k8s.io/api v0.36.3" in go_mod
    names = [str(p.relative_to(MODULE)) for p in binary.key_files(MODULE)]
    assert names[:2] == ["go.mod", "go.sum"]
    assert "cmd/hdra-k8s/main.go" in names


def test_key_follows_go_sum_and_sources_only(module: Path) -> None:
    first = binary.source_key(module)
    assert binary.source_key(module) == first
    (module / "README.txt").write_text("not a key file")
    assert binary.source_key(module) == first
    with (module / "go.sum").open("a") as handle:
        handle.write("example.com/x v1.0.0 h1:AAAA=\n")
    second = binary.source_key(module)
    assert second != first
    (module / "cmd" / "hdra-k8s" / "main.go").write_text("package main\n")
    assert binary.source_key(module) not in (first, second)


def test_cached_binary_makes_a_second_build_a_no_op(module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = binary.cached_binary(module)
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", "")  # no go: a build would fail, a cache hit never looks for it
    result = binary.build(module)
    assert (result.binary, result.built) == (target, False)
    assert binary.locate(module) == target


def test_without_go_the_build_fails_and_locate_quotes_the_cause(
    module: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RealClusterError, match=r"Go toolchain \(go\) is not on PATH"):
        binary.build(module)
    with pytest.raises(RealClusterError, match=r"not built: the last build failed .*Go toolchain"):
        binary.locate(module)


def test_never_built_names_make_k8s(module: Path) -> None:
    with pytest.raises(RealClusterError, match=r"is not built: run `make k8s`"):
        binary.locate(module)


def test_override_must_be_an_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    monkeypatch.setenv(binary.BINARY_ENV, str(plain))
    with pytest.raises(RealClusterError, match=r"HDRA_K8S_BINARY=.* is not an executable file"):
        binary.locate()
    plain.chmod(0o755)
    assert binary.locate() == plain


def test_version_flags_stamp_the_release() -> None:
    flags = binary.version_ldflags("v1.36.3")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "version.gitMajor=1 " in flags
    assert "version.gitMinor=36" in flags


def test_each_command_has_its_own_key_and_cache_entry(module: Path) -> None:
    peer = binary.key_files(MODULE, binary.PEER_DRIVER)
    assert [str(p.relative_to(MODULE)) for p in peer][:3] == ["go.mod", "go.sum", "cmd/peer-driver/main.go"]
    copy = module / "cmd" / binary.PEER_DRIVER / "main.go"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(MODULE / "cmd" / binary.PEER_DRIVER / "main.go", copy)
    peer_target = binary.cached_binary(module, binary.PEER_DRIVER)
    assert peer_target.name == binary.PEER_DRIVER
    assert peer_target.parent != binary.cached_binary(module).parent
    with pytest.raises(
        RealClusterError,
        match=r"peer-driver for these .* not built: run `python tools/build_k8s.py --command peer-driver`",
    ):
        binary.locate(module, binary.PEER_DRIVER)


def test_the_scheduler_client_rate_limit_is_lifted_only_when_asked(tmp_path: Path) -> None:
    """kube-scheduler's own default (50 requests/s) unless a benchmark sets scheduler_qps."""
    plain = components.scheduler_config(tmp_path / "kc", None)
    assert plain["clientConnection"] == {"kubeconfig": str(tmp_path / "kc")}
    lifted = components.scheduler_config(tmp_path / "kc", None, client_qps=1000.0)
    assert lifted["clientConnection"] == {"kubeconfig": str(tmp_path / "kc"), "qps": 1000.0, "burst": 2000}
