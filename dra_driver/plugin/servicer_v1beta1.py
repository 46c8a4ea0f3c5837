"""The DRA ``v1beta1.DRAPlugin`` gRPC servicer, for kubelets 1.32 / 1.33 that do not speak v1.

Owns: converting v1beta1 requests to v1 messages, delegating to the v1 servicer and converting
the answers back (v1beta1 has no ``Device.share_id``; everything else is field-for-field equal).
It must never duplicate the prepare logic of the v1 servicer.
"""

from __future__ import annotations

from typing import Any

from dra_driver.kubeletapi.dra.v1 import api_pb2 as v1
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2 as v1beta1
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2_grpc as v1beta1_grpc
from dra_driver.plugin.servicer import DRAPluginServicer

# The service string the kubelet looks for in PluginInfo.supported_versions.
SERVICE_NAME = "v1beta1.DRAPlugin"


def _claims_to_v1(claims: Any) -> list[v1.Claim]:
    return [v1.Claim(namespace=claim.namespace, uid=claim.uid, name=claim.name) for claim in claims]


def _device_to_v1beta1(device: v1.Device) -> v1beta1.Device:
    return v1beta1.Device(
        request_names=list(device.request_names),
        pool_name=device.pool_name,
        device_name=device.device_name,
        cdi_device_ids=list(device.cdi_device_ids),
    )


def prepare_request_to_v1(request: v1beta1.NodePrepareResourcesRequest) -> v1.NodePrepareResourcesRequest:
    return v1.NodePrepareResourcesRequest(claims=_claims_to_v1(request.claims))


def unprepare_request_to_v1(
    request: v1beta1.NodeUnprepareResourcesRequest,
) -> v1.NodeUnprepareResourcesRequest:
    return v1.NodeUnprepareResourcesRequest(claims=_claims_to_v1(request.claims))


def prepare_response_from_v1(
    response: v1.NodePrepareResourcesResponse,
) -> v1beta1.NodePrepareResourcesResponse:
    converted = v1beta1.NodePrepareResourcesResponse()
    for uid, result in response.claims.items():
        entry = converted.claims[uid]
        entry.error = result.error
        entry.devices.extend(_device_to_v1beta1(device) for device in result.devices)
    return converted


def unprepare_response_from_v1(
    response: v1.NodeUnprepareResourcesResponse,
) -> v1beta1.NodeUnprepareResourcesResponse:
    converted = v1beta1.NodeUnprepareResourcesResponse()
    for uid, result in response.claims.items():
        converted.claims[uid].error = result.error
    return converted


class DRAPluginV1Beta1Servicer(v1beta1_grpc.DRAPluginServicer):
    """Serves ``k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin`` by delegating to the v1 servicer."""

    def __init__(self, v1_servicer: DRAPluginServicer) -> None:
        self._v1 = v1_servicer

    def NodePrepareResources(  # noqa: N802 (gRPC method name)
        self, request: v1beta1.NodePrepareResourcesRequest, context: Any
    ) -> v1beta1.NodePrepareResourcesResponse:
        return prepare_response_from_v1(
            self._v1.NodePrepareResources(prepare_request_to_v1(request), context)
        )

    def NodeUnprepareResources(  # noqa: N802 (gRPC method name)
        self, request: v1beta1.NodeUnprepareResourcesRequest, context: Any
    ) -> v1beta1.NodeUnprepareResourcesResponse:
        return unprepare_response_from_v1(
            self._v1.NodeUnprepareResources(unprepare_request_to_v1(request), context)
        )
