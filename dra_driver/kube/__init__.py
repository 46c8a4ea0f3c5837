"""The Kubernetes client adapter: the only package that talks to an API server.

Everything above it sees typed objects from the official ``kubernetes`` client (37.x, pydantic
models) and hdra's own exceptions, never raw HTTP. It must never import anything else of hdra.
"""

from .client import EVENT_RETRY, KubeClient, node_reference
from .errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
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
from .watch import WatchEvent, watch

__all__ = [
    "EVENT_RETRY",
    "AlreadyExists",
    "BadRequest",
    "ClusterResource",
    "Conflict",
    "Forbidden",
    "Gone",
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
    "Unavailable",
    "WatchEvent",
    "node_reference",
    "one_line",
    "translate",
    "watch",
]
