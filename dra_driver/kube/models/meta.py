"""meta/v1 and core/v1 references: ObjectMeta, OwnerReference, ObjectReference."""

from pydantic import StrictBool, StrictInt, StrictStr

from .base import JsonDict, KubeModel, Time


class OwnerReference(KubeModel):
    openapi = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"

    api_version: StrictStr
    kind: StrictStr
    name: StrictStr
    uid: StrictStr
    block_owner_deletion: StrictBool | None = None
    controller: StrictBool | None = None


class ObjectMeta(KubeModel):
    openapi = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    name: StrictStr | None = None
    generate_name: StrictStr | None = None
    namespace: StrictStr | None = None
    uid: StrictStr | None = None
    resource_version: StrictStr | None = None
    generation: StrictInt | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: StrictInt | None = None
    labels: dict[str, StrictStr] | None = None
    annotations: dict[str, StrictStr] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[StrictStr] | None = None
    managed_fields: list[JsonDict] | None = None
    self_link: StrictStr | None = None


class ObjectReference(KubeModel):
    openapi = "io.k8s.api.core.v1.ObjectReference"

    api_version: StrictStr | None = None
    kind: StrictStr | None = None
    name: StrictStr | None = None
    namespace: StrictStr | None = None
    uid: StrictStr | None = None
    resource_version: StrictStr | None = None
    field_path: StrictStr | None = None
