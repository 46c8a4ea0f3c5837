"""The DRA ``v1.DRAPlugin`` gRPC servicer the kubelet calls to prepare and unprepare claims.

Owns: turning ``NodePrepareResources`` / ``NodeUnprepareResources`` requests into ``ClaimRunner``
batches and the results into response maps with one entry per requested claim UID. It must
never fail a whole call with a gRPC error because of one claim (the kubelet would discard every
claim's result), and never prepares anything itself: that is the ``ClaimPreparer``'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from dra_driver.kubeletapi.dra.v1 import api_pb2, api_pb2_grpc
from dra_driver.plugin.runner import ClaimRunner
from dra_driver.prepare.api import ClaimRef, PreparedDevice

LOG = logging.getLogger("hdra.plugin")

# The service string the kubelet looks for in PluginInfo.supported_versions.
SERVICE_NAME = "v1.DRAPlugin"


def claim_refs(claims: Iterable[api_pb2.Claim]) -> list[ClaimRef]:
    """The claims of a request as ``ClaimRef``s, in request order."""
    return [ClaimRef(uid=claim.uid, namespace=claim.namespace, name=claim.name) for claim in claims]


def to_device(device: PreparedDevice) -> api_pb2.Device:
    """A prepared device as the kubelet's ``Device``; ``share_id`` is only present when set."""
    message = api_pb2.Device(
        request_names=list(device.request_names),
        pool_name=device.pool_name,
        device_name=device.device_name,
        cdi_device_ids=list(device.cdi_device_ids),
    )
    if device.share_id:
        message.share_id = device.share_id
    return message


class DRAPluginServicer(api_pb2_grpc.DRAPluginServicer):
    """Serves ``k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin`` on top of a ``ClaimRunner``."""

    def __init__(self, runner: ClaimRunner) -> None:
        self._runner = runner

    def NodePrepareResources(  # noqa: N802 (gRPC method name)
        self, request: api_pb2.NodePrepareResourcesRequest, context: Any
    ) -> api_pb2.NodePrepareResourcesResponse:
        del context  # per-claim failures go into the answer, never into the call status
        claims = claim_refs(request.claims)
        if LOG.isEnabledFor(logging.INFO):  # the list is only joined when the line is written
            LOG.info("NodePrepareResources for %d claim(s): %s", len(claims), ", ".join(map(str, claims)))
        results = self._runner.prepare_all(claims)
        response = api_pb2.NodePrepareResourcesResponse()
        for uid, result in results.items():
            entry = response.claims[uid]
            if result.error:
                entry.error = result.error
            else:
                entry.devices.extend(to_device(device) for device in result.devices)
        return response

    def NodeUnprepareResources(  # noqa: N802 (gRPC method name)
        self, request: api_pb2.NodeUnprepareResourcesRequest, context: Any
    ) -> api_pb2.NodeUnprepareResourcesResponse:
        del context  # per-claim failures go into the answer, never into the call status
        claims = claim_refs(request.claims)
        if LOG.isEnabledFor(logging.INFO):  # the list is only joined when the line is written
            LOG.info("NodeUnprepareResources for %d claim(s): %s", len(claims), ", ".join(map(str, claims)))
        errors = self._runner.unprepare_all(claims)
        response = api_pb2.NodeUnprepareResourcesResponse()
        for uid, error in errors.items():
            # Indexing creates the entry, so a successful claim still gets one (with error "").
            response.claims[uid].error = error
        return response
