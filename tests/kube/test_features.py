"""Feature gate parsing: what kube-scheduler's --feature-gates refuses, hdra refuses."""

from __future__ import annotations

import pytest

from dra_driver.kube.features import FeatureGate, KubeVersion, parse_feature_gates


def test_gates_a_scheduler_refuses() -> None:
    """Versioned specs of k8s.io/kubernetes pkg/features/kube_features.go (v1.36.3): DRAAdminAccess is
    GA and locked to true in 1.36, DRAListTypeAttributes first exists in 1.36, and
    DRADeviceBindingConditions depends on DRAResourceClaimDeviceStatus."""
    with pytest.raises(ValueError, match="DRAAdminAccess to false, feature is locked to true"):
        parse_feature_gates("DRAAdminAccess=false", KubeVersion(1, 36))
    assert (
        parse_feature_gates("DRAAdminAccess=false", KubeVersion(1, 35))[FeatureGate.DRA_ADMIN_ACCESS] is False
    )
    with pytest.raises(ValueError, match=r"does not exist in Kubernetes 1.34 \(added in 1.36\)"):
        parse_feature_gates("DRAListTypeAttributes=true", KubeVersion(1, 34))
    with pytest.raises(ValueError, match="depends on DRAResourceClaimDeviceStatus"):
        parse_feature_gates("DRAResourceClaimDeviceStatus=false", KubeVersion(1, 36))
