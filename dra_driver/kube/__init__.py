"""The Kubernetes client adapter: the only package that talks to an API server.

Everything above it sees hdra's own typed models (:mod:`.models`: pydantic v2, the API's wire
names, pinned to the OpenAPI schema) and hdra's own exceptions, never raw HTTP. Underneath is a
lean client (DESIGN §3): :mod:`.config` reads kubeconfig files and the in-cluster service
account, :mod:`.credentials` supplies tokens (files re-read on rotation, exec plugins),
:mod:`.transport` sends JSON over one reused urllib3 connection pool, :mod:`.resources` and
:mod:`.watch` implement the verbs, :mod:`.retry` and :mod:`.errors` the retry policy and the error
mapping. None of it imports the official ``kubernetes`` package (nor requests or oauthlib), so the
node plugin's memory holds only the models it uses. It must never import anything else of hdra.
"""

from .client import EVENT_RETRY, KubeClient, load_configuration, node_reference
from .config import ClusterConfig, load_incluster, load_kubeconfig
from .errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    HTTPStatusError,
    Invalid,
    KubeConfigError,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unavailable,
    translate,
)
from .kinds import KindSpec, ObjectList
from .messages import one_line
from .resources import ClusterResource, NamespacedResource, NamespacedStatusResource, Resource
from .retry import RetryPolicy
from .transport import Transport
from .watch import WatchEvent, watch

__all__ = [
    "EVENT_RETRY",
    "AlreadyExists",
    "BadRequest",
    "ClusterConfig",
    "ClusterResource",
    "Conflict",
    "Forbidden",
    "Gone",
    "HTTPStatusError",
    "Invalid",
    "KindSpec",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "NamespacedResource",
    "NamespacedStatusResource",
    "NotFound",
    "ObjectList",
    "Resource",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "Transport",
    "Unavailable",
    "WatchEvent",
    "load_configuration",
    "load_incluster",
    "load_kubeconfig",
    "node_reference",
    "one_line",
    "translate",
    "watch",
]
