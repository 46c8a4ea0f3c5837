"""resource.k8s.io/v1 ResourceClaim, ResourceClaimTemplate and DeviceClass.

The request side (spec) and the allocation side (status) are modelled to the depth hdra's
controller, webhook and test kubelet read; opaque parameters stay raw JSON (the driver decodes
them itself, dra_driver.parameters), and anything deeper rides along unmodelled (see .base).
"""

from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from .base import KubeModel, Quantity, Time
from .core import NodeSelector
from .meta import ObjectMeta


class CELDeviceSelector(KubeModel):
    openapi = "io.k8s.api.resource.v1.CELDeviceSelector"

    expression: StrictStr


class DeviceSelector(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceSelector"

    cel: CELDeviceSelector | None = None


class DeviceToleration(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceToleration"

    key: StrictStr | None = None
    operator: StrictStr | None = None
    value: StrictStr | None = None
    effect: StrictStr | None = None
    toleration_seconds: StrictInt | None = None


class CapacityRequirements(KubeModel):
    openapi = "io.k8s.api.resource.v1.CapacityRequirements"

    requests: dict[str, Quantity] | None = None


class ExactDeviceRequest(KubeModel):
    openapi = "io.k8s.api.resource.v1.ExactDeviceRequest"

    device_class_name: StrictStr
    selectors: list[DeviceSelector] | None = None
    allocation_mode: StrictStr | None = None
    count: StrictInt | None = None
    admin_access: StrictBool | None = None
    tolerations: list[DeviceToleration] | None = None
    capacity: CapacityRequirements | None = None


class DeviceSubRequest(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceSubRequest"

    name: StrictStr
    device_class_name: StrictStr
    selectors: list[DeviceSelector] | None = None
    allocation_mode: StrictStr | None = None
    count: StrictInt | None = None
    tolerations: list[DeviceToleration] | None = None
    capacity: CapacityRequirements | None = None


class DeviceRequest(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceRequest"

    name: StrictStr
    exactly: ExactDeviceRequest | None = None
    first_available: list[DeviceSubRequest] | None = None


class DeviceConstraint(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceConstraint"

    requests: list[StrictStr] | None = None
    match_attribute: StrictStr | None = None
    distinct_attribute: StrictStr | None = None


class OpaqueDeviceConfiguration(KubeModel):
    openapi = "io.k8s.api.resource.v1.OpaqueDeviceConfiguration"

    driver: StrictStr
    parameters: Any


class DeviceClaimConfiguration(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceClaimConfiguration"

    requests: list[StrictStr] | None = None
    opaque: OpaqueDeviceConfiguration | None = None


class DeviceClaim(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceClaim"

    requests: list[DeviceRequest] | None = None
    constraints: list[DeviceConstraint] | None = None
    config: list[DeviceClaimConfiguration] | None = None


class ResourceClaimSpec(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaimSpec"

    devices: DeviceClaim | None = None


class DeviceRequestAllocationResult(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceRequestAllocationResult"

    request: StrictStr
    driver: StrictStr
    pool: StrictStr
    device: StrictStr
    admin_access: StrictBool | None = None
    tolerations: list[DeviceToleration] | None = None
    binding_conditions: list[StrictStr] | None = None
    binding_failure_conditions: list[StrictStr] | None = None
    share_id: StrictStr | None = Field(default=None, alias="shareID")
    consumed_capacity: dict[str, Quantity] | None = None


class DeviceAllocationConfiguration(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceAllocationConfiguration"

    source: StrictStr
    requests: list[StrictStr] | None = None
    opaque: OpaqueDeviceConfiguration | None = None


class DeviceAllocationResult(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceAllocationResult"

    results: list[DeviceRequestAllocationResult] | None = None
    config: list[DeviceAllocationConfiguration] | None = None


class AllocationResult(KubeModel):
    openapi = "io.k8s.api.resource.v1.AllocationResult"

    devices: DeviceAllocationResult | None = None
    node_selector: NodeSelector | None = None
    allocation_timestamp: Time | None = None


class ResourceClaimConsumerReference(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaimConsumerReference"

    api_group: StrictStr | None = None
    resource: StrictStr
    name: StrictStr
    uid: StrictStr


class AllocatedDeviceStatus(KubeModel):
    openapi = "io.k8s.api.resource.v1.AllocatedDeviceStatus"

    driver: StrictStr
    pool: StrictStr
    device: StrictStr
    share_id: StrictStr | None = Field(default=None, alias="shareID")
    conditions: list[dict[str, Any]] | None = None
    data: Any = None
    network_data: dict[str, Any] | None = None


class ResourceClaimStatus(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaimStatus"

    allocation: AllocationResult | None = None
    reserved_for: list[ResourceClaimConsumerReference] | None = None
    devices: list[AllocatedDeviceStatus] | None = None


class ResourceClaim(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaim"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: ResourceClaimSpec
    status: ResourceClaimStatus | None = None


class ResourceClaimTemplateSpec(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaimTemplateSpec"

    metadata: ObjectMeta | None = None
    spec: ResourceClaimSpec


class ResourceClaimTemplate(KubeModel):
    openapi = "io.k8s.api.resource.v1.ResourceClaimTemplate"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: ResourceClaimTemplateSpec


class DeviceClassConfiguration(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceClassConfiguration"

    opaque: OpaqueDeviceConfiguration | None = None


class DeviceClassSpec(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceClassSpec"

    selectors: list[DeviceSelector] | None = None
    config: list[DeviceClassConfiguration] | None = None
    extended_resource_name: StrictStr | None = None


class DeviceClass(KubeModel):
    openapi = "io.k8s.api.resource.v1.DeviceClass"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    metadata: ObjectMeta | None = None
    spec: DeviceClassSpec
