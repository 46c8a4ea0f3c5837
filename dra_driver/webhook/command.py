"""``hdra webhook``: run the admission webhook in the foreground until SIGTERM or SIGINT.

Owns: connecting to the API (a kubeconfig, else in-cluster) with a retry budget that fits inside
the API server's webhook timeout (10 s by default), starting ``WebhookServer`` and the
``TemplateCollector``, announcing readiness with one stdout line ``ready <url>`` and stopping
cleanly on a signal. Argument parsing
belongs to ``dra_driver.cli``; this module must never parse argv.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Final

from dra_driver.kube import KubeClient, RetryPolicy
from dra_driver.webhook.server import WebhookServer
from dra_driver.webhook.template_gc import DEFAULT_GRACE_S, TemplateCollector

WEBHOOK_RETRY: Final = RetryPolicy(attempts=3, deadline_s=6.0, backoff_max_s=1.0, request_timeout_s=3.0)
"""Every API call of one admission ends within ~6 s, inside the API server's 10 s webhook timeout."""


def serve(
    cert: Path,
    key: Path,
    *,
    host: str = "0.0.0.0",
    port: int = 8443,
    kubeconfig: Path | None = None,
    template_grace_s: float = DEFAULT_GRACE_S,
) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status (0 on a clean stop). Generated templates
    no pod names are collected after ``template_grace_s`` (``template_gc``).

    Raises ``KubeConfigError`` when no cluster configuration is found and ``CertificateError``
    when the certificate does not load.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    kube = KubeClient.from_kubeconfig(kubeconfig, retry=WEBHOOK_RETRY)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = WebhookServer(cert, key, host=host, port=port, kube=kube, template_grace_s=template_grace_s)
    collector = TemplateCollector(kube, grace_s=template_grace_s)
    try:
        server.start()
        collector.start()
        sys.stdout.write(f"ready {server.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            continue
    finally:
        collector.stop()
        server.stop()
        kube.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
