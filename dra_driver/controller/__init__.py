"""The slice controller: publishes a node's ResourceSlices and keeps them repaired.

Public surface: ``SlicePublisher`` (one sync), ``SliceController`` (watch + resync threads),
``SyncResult`` and ``PublishError``. It must never serve gRPC or touch the kubelet.
"""

from dra_driver.controller.loop import SliceController
from dra_driver.controller.publisher import PublishError, SlicePublisher, SyncResult

__all__ = ["PublishError", "SliceController", "SlicePublisher", "SyncResult"]
