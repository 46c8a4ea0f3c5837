"""hdra's kubelet plugin: the gRPC servers the kubelet talks to on a node.

Owns: the DRA node services (``v1.DRAPlugin`` and ``v1beta1.DRAPlugin``) on
``<plugin_dir>/dra.sock`` and the plugin-registration service on
``<registry_dir>/<driver>-reg.sock``, both backed by a ``dra_driver.prepare.api.ClaimPreparer``.
It runs different claims concurrently and the same claim serially, and reports each claim's
failure in its own answer entry. It must never prepare devices itself, never talk to the
Kubernetes API and never import the CLI or the dev cluster.
"""

from dra_driver.plugin.registration import PLUGIN_TYPE, SUPPORTED_VERSIONS, RegistrationServicer
from dra_driver.plugin.server import PluginServer
from dra_driver.plugin.sockets import SocketPathError

__all__ = ["PLUGIN_TYPE", "SUPPORTED_VERSIONS", "PluginServer", "RegistrationServicer", "SocketPathError"]
