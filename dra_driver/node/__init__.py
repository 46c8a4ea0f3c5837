"""The node side's composition root (DESIGN §3): ``NodeAgent`` builds, owns and tears down every
part of ``hdra kubelet-plugin``.

Public surface: ``NodeAgent``, ``NodeAgentConfig``, ``NodeAgentError``, ``CardOrder``. It sits
between the CLI and the parts it composes (``plugin``, ``controller``, ``prepare``); it must never
parse command-line arguments (the CLI turns them into a ``NodeAgentConfig``) and never import the
dev cluster, the simulator or the CEL engine.
"""

from dra_driver.node.agent import CardOrder, NodeAgent
from dra_driver.node.config import NodeAgentConfig, NodeAgentError

__all__ = ["CardOrder", "NodeAgent", "NodeAgentConfig", "NodeAgentError"]
