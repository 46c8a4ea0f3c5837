"""hdra's admission webhook (DESIGN §5-7): validates hdra parameters, converts HAMi-style pods.

* ``/validate``: every opaque ``AcceleratorConfig`` of an hdra driver in a ResourceClaim,
  ResourceClaimTemplate (v1, v1beta2, v1beta1) or DeviceClass must decode; a pod container must
  not get limits of one hdra driver from two claims.
* ``/mutate``: a pod with HAMi resources (``nvidia.com/gpu``, ``gpumem``, ``gpucores`` ... and the
  Cambricon, Ascend and Hygon equivalents) gets a content-hashed ResourceClaimTemplate per
  container and a JSON patch that references it and removes the extended resources.

Served over HTTPS by ``WebhookServer`` (TLS 1.2+, certificate reloaded on change); ``serve`` runs
it until SIGTERM. May import parameters, kube, slices and devices; never cli, plugin, controller,
devcluster, prepare or sim.
"""

from dra_driver.webhook.admission import MUTATE_PATH, VALIDATE_PATH, AdmissionHandler
from dra_driver.webhook.asks import Ask, Selection, container_asks
from dra_driver.webhook.command import WEBHOOK_RETRY, serve
from dra_driver.webhook.convert import GeneratedClaim, PodConversion, claim_entry_name, convert_pod
from dra_driver.webhook.errors import Denial
from dra_driver.webhook.mutate import IGNORE_LABEL, IGNORE_VALUE, Mutator
from dra_driver.webhook.patch import apply_patch, json_patch
from dra_driver.webhook.pod_claims import claim_conflicts, driver_of_class
from dra_driver.webhook.review import (
    AdmissionRequest,
    MalformedReview,
    Verdict,
    parse_review,
    review_response,
)
from dra_driver.webhook.selectors import Card
from dra_driver.webhook.server import HEALTHZ_PATH, WebhookServer
from dra_driver.webhook.template import claim_spec, claim_template
from dra_driver.webhook.tls import CertificateError, ReloadingContext
from dra_driver.webhook.validate import Validator
from dra_driver.webhook.vendors import FAMILIES, DeviceFamily

__all__ = [
    "FAMILIES",
    "HEALTHZ_PATH",
    "IGNORE_LABEL",
    "IGNORE_VALUE",
    "MUTATE_PATH",
    "VALIDATE_PATH",
    "WEBHOOK_RETRY",
    "AdmissionHandler",
    "AdmissionRequest",
    "Ask",
    "Card",
    "CertificateError",
    "Denial",
    "DeviceFamily",
    "GeneratedClaim",
    "MalformedReview",
    "Mutator",
    "PodConversion",
    "ReloadingContext",
    "Selection",
    "Validator",
    "Verdict",
    "WebhookServer",
    "apply_patch",
    "claim_conflicts",
    "claim_entry_name",
    "claim_spec",
    "claim_template",
    "container_asks",
    "convert_pod",
    "driver_of_class",
    "json_patch",
    "parse_review",
    "review_response",
    "serve",
]
