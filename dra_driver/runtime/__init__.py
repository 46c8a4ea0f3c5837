"""Process runtime shared by every long-running component: supervised background loops and logging.

Public surface: ``Supervisor`` and ``LoopStatus`` (``supervision``); ``configure_logging``,
``log_fields`` and ``set_process_fields`` (``logs``). It imports nothing of ``dra_driver``, so
every layer may use it.
"""

from dra_driver.runtime.logs import configure as configure_logging
from dra_driver.runtime.logs import log_fields, set_process_fields
from dra_driver.runtime.supervision import LoopStatus, Supervisor

__all__ = ["LoopStatus", "Supervisor", "configure_logging", "log_fields", "set_process_fields"]
