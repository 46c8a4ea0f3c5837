"""hdra's reference control plane: real etcd, kube-apiserver, kube-controller-manager and
kube-scheduler (Kubernetes v1.36.3, built from Go modules in ``tools/k8s`` into one ``hdra-k8s``
binary), started on loopback for tests and by hand (``tools/realcluster.py``).

It is test support and needs the ``dev`` extra (``cryptography`` for the PKI); nothing of hdra's
production entry points imports it. What it gives that the dev cluster (``dra_driver.devcluster``)
does not: the real validation, defaulting and quantity canonicalisation, real RBAC and admission
(webhooks, ValidatingAdmissionPolicy), the real scheduler's DynamicResources plugin and the real
resourceclaim controller and garbage collector.

What it leaves out on purpose: kubelets (Nodes are created Ready and stay so: the node-lifecycle
controller does not run and the TaintNodesByCondition admission plugin is off), the
serviceaccount and token controllers (the ServiceAccount admission plugin is off, so pods need no
ServiceAccount object; TokenRequest still works because the signing key is configured), every
other controller of the default set, kube-proxy and networking.
"""

from dra_driver.realcluster.cluster import ADMIN_USER, RealCluster
from dra_driver.realcluster.errors import RealClusterError

__all__ = ["ADMIN_USER", "RealCluster", "RealClusterError"]
