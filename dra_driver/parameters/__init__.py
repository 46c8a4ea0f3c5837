"""The claim's opaque parameters: ``hdra.io/v1alpha1`` ``AcceleratorConfig`` (DESIGN §6).

Decodes and validates the parameters of opaque configs strictly (every error names its field
path), and resolves which config applies to which request. Used by prepare and the webhook.
A bottom-layer package: it must never import anything else of hdra except ``dra_driver.kube``.
The JSON schema export lives in ``dra_driver.parameters.schema`` (run it with ``python -m``).
"""

from dra_driver.rules import Priority

from .decode import MAX_PARAMETERS_BYTES, decode_config
from .drivers import HDRA_DRIVERS, is_hdra_driver, vendor_of
from .errors import ParameterError
from .model import API_VERSION, DEFAULT_CONFIG, KIND, AcceleratorConfig, CorePolicy, Enforcement
from .resolve import OpaqueConfigEntry, resolve_request_configs
from .vendors import (
    ASCEND_VNPU_TEMPLATES,
    VENDOR_SECTIONS,
    AscendExtras,
    AscendVnpuTemplate,
    VnpuTemplateSpec,
)

__all__ = [
    "API_VERSION",
    "ASCEND_VNPU_TEMPLATES",
    "DEFAULT_CONFIG",
    "HDRA_DRIVERS",
    "KIND",
    "MAX_PARAMETERS_BYTES",
    "VENDOR_SECTIONS",
    "AcceleratorConfig",
    "AscendExtras",
    "AscendVnpuTemplate",
    "CorePolicy",
    "Enforcement",
    "OpaqueConfigEntry",
    "ParameterError",
    "Priority",
    "VnpuTemplateSpec",
    "decode_config",
    "is_hdra_driver",
    "resolve_request_configs",
    "vendor_of",
]
