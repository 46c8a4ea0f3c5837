"""KubeClient: the connection to one API server and the typed resources hdra uses on it.

Owns: loading the cluster configuration (a kubeconfig file, or the in-cluster service account), the
table of kinds hdra uses, and best-effort Events. It must never hide failures of real work (every
resource call raises hdra's exceptions once the retry budget is spent) and must never let an Event
failure disturb the caller: events are diagnostics, not state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

import yaml
from kubernetes import config as kube_config
from kubernetes.client import (
    ApiClient,
    Configuration,
    CoreV1Api,
    CoreV1Event,
    ResourceV1Api,
    V1EventSource,
    V1ObjectMeta,
    V1ObjectReference,
)

from .errors import KubeConfigError
from .kinds import (
    DEVICE_CLASS,
    EVENT,
    NAMESPACE,
    NODE,
    POD,
    RESOURCE_CLAIM,
    RESOURCE_CLAIM_TEMPLATE,
    RESOURCE_SLICE,
)
from .messages import one_line
from .resources import ClusterResource, NamespacedResource, NamespacedStatusResource
from .retry import RetryPolicy

log = logging.getLogger("hdra.kube")

# Events are best-effort: a short budget, so an unreachable server cannot stall the caller for long.
EVENT_RETRY = RetryPolicy(attempts=2, deadline_s=3.0, request_timeout_s=3.0)

EventType = Literal["Normal", "Warning"]


def node_reference(name: str) -> V1ObjectReference:
    """The involvedObject for an Event about a Node (kubelet's convention: uid = node name)."""
    return V1ObjectReference(api_version="v1", kind="Node", name=name, uid=name)


# What loading a kubeconfig can raise: the client's own ConfigException, unreadable files, YAML that
# does not parse, and (from the client's merging code) the wrong shapes where a mapping is expected.
_CONFIG_ERRORS: tuple[type[BaseException], ...] = (
    kube_config.ConfigException,
    OSError,
    ValueError,
    yaml.YAMLError,
    TypeError,
    AttributeError,
    KeyError,
)


def _read_kubeconfig(path: Path) -> None:
    """Refuse a file that is missing, unreadable, not YAML, or not a mapping, before the client reads it."""
    if not path.is_file():
        raise KubeConfigError(f"kubeconfig {path} does not exist or is not a file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"kubeconfig {path} is not readable YAML: {one_line(exc)}") from None
    if not isinstance(document, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig: expected a mapping at the top")


# The official client's token-refresh hook (set for token credentials: the in-cluster service
# account, kubeconfig tokens and exec plugins) runs before every request and re-assigns
# ``Configuration.host``, whose setter re-reads the proxy settings from the whole environment
# (``urllib.request.getproxies``). hdra runs the hook at most this often; the in-cluster token is
# re-read once a minute anyway, and an expired exec or OIDC token is renewed within this delay.
REFRESH_INTERVAL_S = 1.0


def throttle_refresh_hook(configuration: Configuration, interval_s: float = REFRESH_INTERVAL_S) -> None:
    """Make ``configuration``'s refresh hook (if any) run at most once per ``interval_s``."""
    hook: Callable[[Configuration], None] | None = configuration.refresh_api_key_hook
    if hook is None:
        return
    lock = threading.Lock()
    last = [-float("inf")]

    def refresh(config: Configuration) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < interval_s:
                return
            last[0] = now
        hook(config)
        # The client's hook re-installs itself (kube_config's ``_set_config``): keep ours in place.
        setattr(config, "refresh_api_key_hook", refresh)  # noqa: B010 - the stub types it as None

    setattr(configuration, "refresh_api_key_hook", refresh)  # noqa: B010 - the stub types it as None


def _load_configuration(path: Path | None, context: str | None) -> Configuration:
    """A kubeconfig file when given; else the in-cluster service account; else ~/.kube/config.

    Every failure is a one-line KubeConfigError naming the file.
    """
    configuration = Configuration()
    if path is not None:
        _read_kubeconfig(path)
        try:
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except _CONFIG_ERRORS as exc:
            raise KubeConfigError(
                f"kubeconfig {path} is not usable (context {context!r}): {one_line(exc)}"
            ) from None
        return configuration
    problems: list[str] = []
    if context is None:
        try:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except kube_config.ConfigException as exc:
            problems.append(f"in-cluster config: {one_line(exc)}")
        else:
            return configuration
    # Read at call time (the client reads $KUBECONFIG once, at import); it may list several files.
    default = os.environ.get("KUBECONFIG") or "~/.kube/config"
    try:
        kube_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=default,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except _CONFIG_ERRORS as exc:
        problems.append(f"kubeconfig {default} (context {context!r}): {one_line(exc)}")
        raise KubeConfigError("no usable cluster configuration: " + "; ".join(problems)) from None
    return configuration


class KubeClient:
    """Typed, retrying access to the resources hdra reads and writes.

    When built with :meth:`from_kubeconfig`, urllib3's own retries are switched off so that the
    :class:`RetryPolicy` is the only retry layer (two layers would multiply attempts and blow the
    deadline). A caller passing its own ``ApiClient`` keeps whatever it configured.
    """

    def __init__(self, api_client: ApiClient, retry: RetryPolicy = RetryPolicy()) -> None:  # noqa: B008 - frozen
        self.api_client = api_client
        self.retry = retry
        apis: dict[str, object] = {"core": CoreV1Api(api_client), "resource": ResourceV1Api(api_client)}
        self.resource_slices = ClusterResource(RESOURCE_SLICE, apis[RESOURCE_SLICE.api], retry)
        self.device_classes = ClusterResource(DEVICE_CLASS, apis[DEVICE_CLASS.api], retry)
        self.nodes = ClusterResource(NODE, apis[NODE.api], retry)
        self.namespaces = ClusterResource(NAMESPACE, apis[NAMESPACE.api], retry)
        self.resource_claims = NamespacedStatusResource(RESOURCE_CLAIM, apis[RESOURCE_CLAIM.api], retry)
        self.resource_claim_templates = NamespacedResource(
            RESOURCE_CLAIM_TEMPLATE, apis[RESOURCE_CLAIM_TEMPLATE.api], retry
        )
        self.events = NamespacedResource(EVENT, apis[EVENT.api], retry)
        self.pods = NamespacedResource(POD, apis[POD.api], retry)
        self._best_effort_events = NamespacedResource(EVENT, apis[EVENT.api], EVENT_RETRY)

    @classmethod
    def from_kubeconfig(
        cls,
        path: Path | None = None,
        context: str | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as a default
    ) -> KubeClient:
        """Connect using ``path`` (a kubeconfig), or in-cluster config then ~/.kube/config when None."""
        configuration = _load_configuration(path, context)
        configuration.retries = False
        throttle_refresh_hook(configuration)
        return cls(ApiClient(configuration=configuration), retry=retry)

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def record_event(
        self,
        involved: V1ObjectReference,
        *,
        reason: str,
        message: str,
        type: EventType = "Normal",  # the Event field's own name
        component: str = "hdra",
    ) -> CoreV1Event | None:
        """Create a core/v1 Event about ``involved``; returns it, or None after logging a failure.

        The Event goes to the object's namespace, or "default" for cluster-scoped objects (as
        kubectl and kubelet do). Never raises: a lost Event must not fail the work it describes.
        """
        namespace = involved.namespace or "default"
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            event = CoreV1Event(
                metadata=V1ObjectMeta(
                    name=f"{involved.name or 'unknown'}.{uuid.uuid4().hex[:16]}", namespace=namespace
                ),
                involved_object=involved,
                reason=reason,
                message=message,
                type=type,
                source=V1EventSource(component=component),
                reporting_component=component,
                reporting_instance=component,
                first_timestamp=now,
                last_timestamp=now,
                count=1,
            )
            return self._best_effort_events.create(namespace, event)
        except Exception as exc:  # best effort by contract; logged with the cause
            log.warning(
                "could not record %s event %r about %s %s/%s: %s",
                type,
                reason,
                involved.kind,
                namespace,
                involved.name,
                exc,
            )
            return None
