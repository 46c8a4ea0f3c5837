"""resource.k8s.io/v1 ResourceSlice and its parts: everything hdra publishes, modelled in full."""

from pydantic import StrictBool, StrictInt, StrictStr

from .base import KubeModel, Quantity, Time
from .core import NodeSelector
from .meta import ObjectMeta


class DeviceAttribute(KubeModel):
    """Exactly one of the fields is set (the API's one-of)."""

    openapi = "io.k8s.api.resource.v1.DeviceAttribute"

    bool: StrictBool | None = None
    int: StrictInt | None = None
    string: StrictStr | None = None
    version: StrictStr | None = None
    bools: list[StrictBool] | None = None
    ints: list[StrictInt] | None = None
    strings: list[StrictStr] | None = None
    versions: list[StrictStr] | None = None


class CapacityRequestPolicyRange(KubeModel):
    openapi = "io.k8s.api.resource.v1.CapacityRequestPolicyRange"

    min: Quantity
    max: Quantity | None = None
    step: Quantity | None = None


class CapacityRequestPolicy(KubeModel):
    openapi = "io.k8s.api.resource.v1.CapacityRequestPolicy"

    default: Quantity | None = None
    valid_values: list[Quantity] | None = None
    valid_range: CapacityRequestPolicyRange | None = None


class DeviceCapacity(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceCapacity"

    value: Quantity
    request_policy: CapacityRequestPolicy | None = None


class Counter(KubeModel):
    openapi = "io.k8s.api.resource.v1.Counter"

    value: Quantity


class CounterSet(KubeModel):
    openapi = "io.k8s.api.resource.v1.CounterSet"

    name: StrictStr
    counters: dict[str, Counter]


class DeviceCounterConsumption(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceCounterConsumption"

    counter_set: StrictStr
    counters: dict[str, Counter]


class DeviceTaint(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceTaint"

    key: StrictStr
    effect: StrictStr
    value: StrictStr | None = None
    time_added: Time | None = None


class NodeAllocatableResourceMapping(KubeModel):
    openapi = "io.k8s.api.resource.v1.NodeAllocatableResourceMapping"

    allocation_multiplier: Quantity | None = None
    capacity_key: StrictStr | None = None


class Device(KubeModel):
    openapi = "io.k8s.api.resource.v1.Device"

    name: StrictStr
    attributes: dict[str, DeviceAttribute] | None = None
    capacity: dict[str, DeviceCapacity] | None = None
    consumes_counters: list[DeviceCounterConsumption] | None = None
    node_name: StrictStr | None = None
    node_selector: NodeSelector | None = None
    all_nodes: StrictBool | None = None
    taints: list[DeviceTaint] | None = None
    binds_to_node: StrictBool | None = None
    binding_conditions: list[StrictStr] | None = None
    binding_failure_conditions: list[StrictStr] | None = None
    allow_multiple_allocations: StrictBool | None = None
    node_allocatable_resource_mappings: dict[str, NodeAllocatableResourceMapping] | None = None


class ResourcePool(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourcePool"

    name: StrictStr
    generation: StrictInt
    resource_slice_count: StrictInt


class ResourceSliceSpec(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceSliceSpec"

    driver: StrictStr
    pool: ResourcePool
    node_name: StrictStr | None = None
    node_selector: NodeSelector | None = None
    all_nodes: StrictBool | None = None
    per_device_node_selection: StrictBool | None = None
    devices: list[Device] | None = None
    shared_counters: list[CounterSet] | None = None


class ResourceSlice(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceSlice"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: ResourceSliceSpec
