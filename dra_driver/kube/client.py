"""KubeClient: the connection to one API server and the typed resources hdra uses on it.

Owns: choosing the cluster configuration (a kubeconfig file, or the in-cluster service account,
see :mod:`.config`), the transport, the table of kinds hdra uses, and best-effort Events. It must
never hide failures of real work (every resource call raises hdra's exceptions once the retry
budget is spent) and must never let an Event failure disturb the caller: events are diagnostics,
not state. It never imports the official ``kubernetes`` package on its own: :attr:`KubeClient.api_client`
builds the official client from the same configuration, on first use, for tools and tests only.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .config import ClusterConfig, kubeconfig_paths, load_incluster, load_kubeconfig
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
from .models import Event, EventSource, ObjectMeta, ObjectReference
from .resources import ClusterResource, NamespacedResource, NamespacedStatusResource
from .retry import RetryPolicy
from .transport import Transport

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("hdra.kube")

# Events are best-effort: a short budget, so an unreachable server cannot stall the caller for long.
EVENT_RETRY = RetryPolicy(attempts=2, deadline_s=3.0, request_timeout_s=3.0)

EventType = Literal["Normal", "Warning"]


def node_reference(name: str) -> ObjectReference:
    """The involvedObject for an Event about a Node (kubelet's convention: uid = node name)."""
    return ObjectReference(api_version="v1", kind="Node", name=name, uid=name)


def load_configuration(path: Path | None, context: str | None) -> ClusterConfig:
    """A kubeconfig file when given; else the in-cluster service account; else $KUBECONFIG or ~/.kube/config.

    Every failure is a one-line KubeConfigError naming the file (and field).
    """
    if path is not None:
        return load_kubeconfig([path], context)
    problems: list[str] = []
    if context is None:
        try:
            return load_incluster()
        except KubeConfigError as exc:
            problems.append(f"in-cluster config: {exc}")
    paths = kubeconfig_paths(None)
    try:
        return load_kubeconfig(paths, context)
    except KubeConfigError as exc:
        problems.append(str(exc))
        raise KubeConfigError("no usable cluster configuration: " + "; ".join(problems)) from None


class KubeClient:
    """Typed, retrying access to the resources hdra reads and writes, over one :class:`Transport`.

    The :class:`RetryPolicy` is the only retry layer (the transport never retries or redirects).
    """

    def __init__(
        self,
        transport: Transport,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
        *,
        kubeconfig: Path | None = None,
        context: str | None = None,
    ) -> None:
        self.transport = transport
        self.retry = retry
        self._kubeconfig = kubeconfig
        self._context = context
        self._official: ApiClient | None = None
        self.resource_slices = ClusterResource(RESOURCE_SLICE, transport, retry)
        self.device_classes = ClusterResource(DEVICE_CLASS, transport, retry)
        self.nodes = ClusterResource(NODE, transport, retry)
        self.namespaces = ClusterResource(NAMESPACE, transport, retry)
        self.resource_claims = NamespacedStatusResource(RESOURCE_CLAIM, transport, retry)
        self.resource_claim_templates = NamespacedResource(RESOURCE_CLAIM_TEMPLATE, transport, retry)
        self.events = NamespacedResource(EVENT, transport, retry)
        self.pods = NamespacedResource(POD, transport, retry)
        self._best_effort_events = NamespacedResource(EVENT, transport, EVENT_RETRY)

    @classmethod
    def from_kubeconfig(
        cls,
        path: Path | None = None,
        context: str | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as a default
    ) -> KubeClient:
        """Connect using ``path`` (a kubeconfig), or in-cluster config then ~/.kube/config when None."""
        configuration = load_configuration(path, context)
        return cls(Transport(configuration), retry=retry, kubeconfig=path, context=context)

    @property
    def api_client(self) -> ApiClient:
        """The official client on the same configuration, for tools and tests that need verbs hdra's
        client does not have (patch, pod deletion with grace, discovery). Imported on first use: no
        production component may use it (the node plugin's module graph never contains ``kubernetes``).
        """
        if self._official is None:
            from kubernetes import client as official  # noqa: PLC0415 - deliberately lazy
            from kubernetes import config as official_config  # noqa: PLC0415

            configuration = official.Configuration()
            if self.transport.config.source == "in-cluster":
                official_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                official_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=None if self._kubeconfig is None else str(self._kubeconfig),
                    context=self._context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            self._official = official.ApiClient(configuration=configuration)
        return self._official

    def close(self) -> None:
        self.transport.close()
        if self._official is not None:
            self._official.close()  # type: ignore[no-untyped-call]

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
        involved: ObjectReference,
        *,
        reason: str,
        message: str,
        type: EventType = "Normal",  # the Event field's own name
        component: str = "hdra",
    ) -> Event | None:
        """Create a core/v1 Event about ``involved``; returns it, or None after logging a failure.

        The Event goes to the object's namespace, or "default" for cluster-scoped objects (as
        kubectl and kubelet do). Never raises: a lost Event must not fail the work it describes.
        """
        namespace = involved.namespace or "default"
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            event = Event(
                metadata=ObjectMeta(
                    name=f"{involved.name or 'unknown'}.{uuid.uuid4().hex[:16]}", namespace=namespace
                ),
                involved_object=involved,
                reason=reason,
                message=message,
                type=type,
                source=EventSource(component=component),
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
