"""Routing one AdmissionReview body to the validator or the mutator, and turning failures into answers.

Owns: ``AdmissionHandler.handle(path, body) -> (http status, JSON body)``. A body that is not a
v1 AdmissionReview gets HTTP 400 with a message; every decision, including a failure inside the
webhook, is an HTTP 200 AdmissionReview: a ``Denial`` denies with its own message and code, an
API failure denies with code 500 naming the call, and any other exception denies with code 500
naming its type and message (logged with the traceback). It must never let an exception escape
to the HTTP layer, where it would look like a hung or broken webhook to the API server.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from dra_driver.kube import KubeClient, KubeError
from dra_driver.webhook.errors import INTERNAL, Denial
from dra_driver.webhook.mutate import Mutator
from dra_driver.webhook.review import (
    AdmissionRequest,
    MalformedReview,
    Verdict,
    deny,
    parse_review,
    review_response,
)
from dra_driver.webhook.state import WatchedState
from dra_driver.webhook.template_gc import DEFAULT_GRACE_S
from dra_driver.webhook.validate import Validator

VALIDATE_PATH: Final = "/validate"
MUTATE_PATH: Final = "/mutate"
PATHS: Final = (VALIDATE_PATH, MUTATE_PATH)

log = logging.getLogger("hdra.webhook")


class AdmissionHandler:
    """Validator and mutator over one (optional) API client."""

    def __init__(
        self,
        kube: KubeClient | None,
        state: WatchedState | None = None,
        template_grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        self.validator = Validator(kube, state)
        self.mutator = Mutator(kube, state, template_grace_s)

    def decide(self, path: str, request: AdmissionRequest) -> Verdict:
        """The verdict for ``request`` on ``path``; never raises."""
        try:
            if path == MUTATE_PATH:
                return self.mutator.mutate(request)
            return self.validator.validate(request)
        except Denial as denial:
            return deny(denial.message, denial.code)
        except KubeError as exc:
            log.warning("%s %s: API call failed: %s", path, request.describe(), exc)
            return deny(f"{request.describe()}: the webhook could not complete an API call: {exc}", INTERNAL)
        except Exception as exc:  # by contract every failure becomes a denial that names it
            log.exception("%s %s: internal error", path, request.describe())
            return deny(
                f"{request.describe()}: internal webhook error: {type(exc).__name__}: {exc}", INTERNAL
            )

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON answer for a POST of ``body`` to ``path`` (one of ``PATHS``)."""
        if path not in PATHS:
            return 404, {"message": f"no admission endpoint at {path!r}; use {' or '.join(PATHS)}"}
        try:
            request = parse_review(body)
        except MalformedReview as exc:
            return 400, {"message": f"malformed AdmissionReview: {exc}"}
        verdict = self.decide(path, request)
        if not verdict.allowed:
            log.info("%s denied %s %s: %s", path, request.operation, request.describe(), verdict.message)
        return 200, review_response(request.uid, verdict)
