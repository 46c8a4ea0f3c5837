"""core/v1 kinds hdra reads or writes: Node, Namespace, Pod (the parts hdra reads), Event, NodeSelector."""

from typing import Any

from pydantic import StrictBool, StrictInt, StrictStr

from .base import KubeModel, Quantity, Time
from .meta import ObjectMeta, ObjectReference


class NodeSelectorRequirement(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeSelectorRequirement"

    key: StrictStr
    operator: StrictStr
    values: list[StrictStr] | None = None


class NodeSelectorTerm(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeSelectorTerm"

    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeSelector"

    node_selector_terms: list[NodeSelectorTerm]


class NodeCondition(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeCondition"

    type: StrictStr
    status: StrictStr
    reason: StrictStr | None = None
    message: StrictStr | None = None
    last_heartbeat_time: Time | None = None
    last_transition_time: Time | None = None


class Taint(KubeModel):
    openapi = "io.k8s.api.core.v1.Taint"

    key: StrictStr
    effect: StrictStr
    value: StrictStr | None = None
    time_added: Time | None = None


class NodeSpec(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeSpec"

    taints: list[Taint] | None = None
    unschedulable: StrictBool | None = None


class NodeStatus(KubeModel):
    openapi = "io.k8s.api.core.v1.NodeStatus"

    capacity: dict[str, Quantity] | None = None
    allocatable: dict[str, Quantity] | None = None
    conditions: list[NodeCondition] | None = None
    phase: StrictStr | None = None


class Node(KubeModel):
    openapi = "io.k8s.api.core.v1.Node"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class Namespace(KubeModel):
    openapi = "io.k8s.api.core.v1.Namespace"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class PodResourceClaim(KubeModel):
    openapi = "io.k8s.api.core.v1.PodResourceClaim"

    name: StrictStr
    resource_claim_name: StrictStr | None = None
    resource_claim_template_name: StrictStr | None = None


class PodResourceClaimStatus(KubeModel):
    openapi = "io.k8s.api.core.v1.PodResourceClaimStatus"

    name: StrictStr
    resource_claim_name: StrictStr | None = None


class ResourceRequirements(KubeModel):
    openapi = "io.k8s.api.core.v1.ResourceRequirements"

    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class Container(KubeModel):
    """The parts of a container hdra reads; the rest stays as the server sent it."""

    openapi = "io.k8s.api.core.v1.Container"

    name: StrictStr
    image: StrictStr | None = None
    resources: ResourceRequirements | None = None


class PodSpec(KubeModel):
    """The parts of a PodSpec hdra reads; the rest stays as the server sent it."""

    openapi = "io.k8s.api.core.v1.PodSpec"

    containers: list[Container]
    node_name: StrictStr | None = None
    resource_claims: list[PodResourceClaim] | None = None


class PodCondition(KubeModel):
    openapi = "io.k8s.api.core.v1.PodCondition"

    type: StrictStr
    status: StrictStr
    reason: StrictStr | None = None
    message: StrictStr | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None


class PodStatus(KubeModel):
    openapi = "io.k8s.api.core.v1.PodStatus"

    phase: StrictStr | None = None
    conditions: list[PodCondition] | None = None
    resource_claim_statuses: list[PodResourceClaimStatus] | None = None


class Pod(KubeModel):
    openapi = "io.k8s.api.core.v1.Pod"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


class EventSource(KubeModel):
    openapi = "io.k8s.api.core.v1.EventSource"

    component: StrictStr | None = None
    host: StrictStr | None = None


class Event(KubeModel):
    """A core/v1 Event (the kind kubectl describe shows)."""

    openapi = "io.k8s.api.core.v1.Event"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta
    involved_object: ObjectReference
    reason: StrictStr | None = None
    message: StrictStr | None = None
    type: StrictStr | None = None
    source: EventSource | None = None
    reporting_component: StrictStr | None = None
    reporting_instance: StrictStr | None = None
    first_timestamp: Time | None = None
    last_timestamp: Time | None = None
    event_time: Time | None = None
    count: StrictInt | None = None
    action: StrictStr | None = None
    related: ObjectReference | None = None
