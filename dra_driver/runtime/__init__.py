"""Process runtime shared by every long-running component: supervised background loops and logging.

Public surface: ``Supervisor`` and ``LoopStatus`` (``supervision``). It imports nothing of
``dra_driver`` except ``rules``, so every layer may use it.
"""

from dra_driver.runtime.supervision import LoopStatus, Supervisor

__all__ = ["LoopStatus", "Supervisor"]
