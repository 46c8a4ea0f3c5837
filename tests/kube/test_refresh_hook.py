"""The client's token-refresh hook runs at most once per interval (issue 17: it re-read the whole
environment on every request), and still runs once the interval has passed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes.client import Configuration

from dra_driver.kube import KubeClient
from dra_driver.kube import client as kube_client


def test_the_refresh_hook_runs_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    calls: list[Configuration] = []
    configuration = Configuration(host="https://example.invalid")
    setattr(configuration, "refresh_api_key_hook", calls.append)  # noqa: B010 - typed as None
    kube_client.throttle_refresh_hook(configuration, interval_s=1.0)
    for _ in range(5):
        configuration.get_api_key_with_prefix("BearerToken")
    assert calls == [configuration]
    now[0] += 1.0
    configuration.get_api_key_with_prefix("BearerToken")
    assert len(calls) == 2


def test_without_a_hook_nothing_is_installed() -> None:
    configuration = Configuration(host="https://example.invalid")
    kube_client.throttle_refresh_hook(configuration)
    assert configuration.refresh_api_key_hook is None


def test_the_throttle_survives_a_hook_that_reinstalls_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """kube_config's hook sets ``refresh_api_key_hook`` to itself again on every call."""
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    calls: list[Configuration] = []

    def original(config: Configuration) -> None:
        calls.append(config)
        setattr(config, "refresh_api_key_hook", original)  # noqa: B010 - typed as None

    configuration = Configuration(host="https://example.invalid")
    setattr(configuration, "refresh_api_key_hook", original)  # noqa: B010 - typed as None
    kube_client.throttle_refresh_hook(configuration, interval_s=1.0)
    for _ in range(5):
        configuration.get_api_key_with_prefix("BearerToken")
    assert len(calls) == 1


def test_a_dev_cluster_kubeconfig_token_refreshes_once_per_interval(kubeconfig: Path) -> None:
    """The real loader with a token user (the dev cluster's kubeconfig has one)."""
    with KubeClient.from_kubeconfig(kubeconfig) as client:
        hook = client.api_client.configuration.refresh_api_key_hook
        assert hook is not None
        for _ in range(3):
            client.nodes.list()
        assert client.api_client.configuration.refresh_api_key_hook is hook
