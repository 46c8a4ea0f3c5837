"""The fake kubelet's DRA client for one registered plugin: one channel, the chosen service version.

Owns: building ``v1`` or ``v1beta1`` requests from ``ClaimRef``s, calling the plugin's endpoint
with the kubelet's deadline, turning a gRPC failure into ``KubeletCheckError`` (the kubelet drops
the whole answer then) and converting the answer into ``kubelet_checks`` results after the
kubelet's checks. It must never decide registration questions; ``kubelet`` does that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import grpc

from dra_driver.devcluster.kubelet_checks import (
    ClaimPrepareResult,
    ClaimUnprepareResult,
    KubeletCheckError,
    KubeletDevice,
    check_claim_keys,
    check_devices,
)
from dra_driver.kubeletapi.dra.v1 import api_pb2 as dra_v1
from dra_driver.kubeletapi.dra.v1 import api_pb2_grpc as dra_v1_grpc
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2 as dra_v1beta1
from dra_driver.kubeletapi.dra.v1beta1 import api_pb2_grpc as dra_v1beta1_grpc
from dra_driver.prepare.api import ClaimRef

V1 = "v1.DRAPlugin"
V1BETA1 = "v1beta1.DRAPlugin"


class DRAConnection:
    """Calls NodePrepareResources / NodeUnprepareResources of one plugin over ``version``."""

    def __init__(self, driver: str, endpoint: str, version: str) -> None:
        self.driver = driver
        self.endpoint = endpoint
        self.version = version
        self._channel = grpc.insecure_channel(f"unix://{endpoint}")
        self._api: ModuleType
        self._stub: Any
        if version == V1:
            self._api = dra_v1
            self._stub = dra_v1_grpc.DRAPluginStub(self._channel)  # type: ignore[no-untyped-call]
        elif version == V1BETA1:
            self._api = dra_v1beta1
            self._stub = dra_v1beta1_grpc.DRAPluginStub(self._channel)  # type: ignore[no-untyped-call]
        else:
            self._channel.close()
            raise ValueError(f"DRA driver {driver}: unsupported service version {version!r}")

    def close(self) -> None:
        self._channel.close()

    def prepare(self, claims: Sequence[ClaimRef], timeout: float) -> dict[str, ClaimPrepareResult]:
        method = "NodePrepareResources"
        request = self._api.NodePrepareResourcesRequest(claims=self._claims(claims))
        response = self._call(method, self._stub.NodePrepareResources, request, timeout)
        check_claim_keys(self.driver, method, claims, list(response.claims.keys()))
        results: dict[str, ClaimPrepareResult] = {}
        for claim in claims:
            answer = response.claims[claim.uid]
            if answer.error:
                results[claim.uid] = ClaimPrepareResult(error=answer.error)
                continue
            devices = tuple(self._device(device) for device in answer.devices)
            check_devices(self.driver, claim, devices)
            results[claim.uid] = ClaimPrepareResult(devices=devices)
        return results

    def unprepare(self, claims: Sequence[ClaimRef], timeout: float) -> dict[str, ClaimUnprepareResult]:
        method = "NodeUnprepareResources"
        request = self._api.NodeUnprepareResourcesRequest(claims=self._claims(claims))
        response = self._call(method, self._stub.NodeUnprepareResources, request, timeout)
        check_claim_keys(self.driver, method, claims, list(response.claims.keys()))
        return {claim.uid: ClaimUnprepareResult(error=response.claims[claim.uid].error) for claim in claims}

    def _claims(self, claims: Sequence[ClaimRef]) -> list[Any]:
        return [
            self._api.Claim(namespace=claim.namespace, uid=claim.uid, name=claim.name) for claim in claims
        ]

    def _device(self, device: Any) -> KubeletDevice:
        share_id = device.share_id if self.version == V1 and device.HasField("share_id") else None
        return KubeletDevice(
            request_names=tuple(device.request_names),
            pool_name=device.pool_name,
            device_name=device.device_name,
            cdi_device_ids=tuple(device.cdi_device_ids),
            share_id=share_id,
        )

    def _call(self, method: str, rpc: Callable[..., Any], request: Any, timeout: float) -> Any:
        try:
            return rpc(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise KubeletCheckError(
                f"{method} ({self.version}) of DRA driver {self.driver} at {self.endpoint} failed: "
                f"{exc.code()}: {exc.details()}"
            ) from exc
