"""What the webhook reads from and writes to the API: cards, namespace labels, claims, templates.

Owns: every call the webhook makes through ``KubeClient``, each returning plain JSON-like dicts
so the rest of the package never sees client models.
Cards are the devices of the driver's ResourceSlices that stand for a whole card: partitions and
replicas carry ``parentUUID`` and are skipped (their memory is a share, not a card size).
It must never decide anything about admission.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dra_driver.kube import AlreadyExists, KubeClient, NotFound
from dra_driver.kube.models import KubeModel, ResourceClaimTemplate
from dra_driver.kube.quantity import parse_quantity
from dra_driver.rules import MEMORY
from dra_driver.slices.attributes import PARENT_UUID
from dra_driver.webhook.selectors import Card
from dra_driver.webhook.template_gc import touch

log = logging.getLogger("hdra.webhook")


def plain(kube: KubeClient, obj: KubeModel) -> dict[str, Any]:
    """A model as the API's JSON (camelCase keys, no nulls)."""
    return obj.to_json()


def _string(attributes: Mapping[str, Any], name: str) -> str | None:
    value = (attributes.get(name) or {}).get("string")
    return str(value) if value is not None else None


class SliceCards:
    """The cards of each driver, read once per instance (one instance per admission request)."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._cards: dict[str, list[Card]] = {}

    def __call__(self, driver: str) -> Sequence[Card]:
        if driver not in self._cards:
            self._cards[driver] = self._read(driver)
        return self._cards[driver]

    def _read(self, driver: str) -> list[Card]:
        listed = self._kube.resource_slices.list(field_selector=f"spec.driver={driver}")
        return cards_in_slices(driver, [plain(self._kube, item) for item in listed.items])


def cards_in_slices(driver: str, slices: Iterable[Mapping[str, Any]]) -> list[Card]:
    """The whole cards of ``driver`` among ``slices`` (API-shaped dicts); other drivers are skipped."""
    cards: list[Card] = []
    for slice_ in slices:
        spec = slice_.get("spec") or {}
        if spec.get("driver") != driver:
            continue
        for device in spec.get("devices") or []:
            attributes = device.get("attributes") or {}
            memory = ((device.get("capacity") or {}).get(MEMORY) or {}).get("value")
            if PARENT_UUID in attributes or memory is None:
                continue
            try:
                size = int(parse_quantity(memory))
            except ValueError:
                log.warning(
                    "slice device %s of %s has a bad memory capacity %r", device.get("name"), driver, memory
                )
                continue
            cards.append(Card(driver, _string(attributes, "productName"), _string(attributes, "uuid"), size))
    return cards


def namespace_labels(kube: KubeClient, name: str) -> dict[str, str]:
    """The labels of namespace ``name`` ({} when it does not exist)."""
    try:
        namespace = kube.namespaces.get(name)
    except NotFound:
        return {}
    labels = (namespace.metadata.labels if namespace.metadata else None) or {}
    return dict(labels)


def create_template(kube: KubeClient, template: dict[str, Any]) -> bool:
    """Create ``template`` in its namespace; True if created, False if it already existed.

    The name is a hash of the content, so an existing template of that name has the same spec; it
    is marked as handed out again (``template_gc.touch``) so that garbage collection keeps it, and
    created anew if collection removed it in the meantime.
    """
    body = ResourceClaimTemplate.model_validate(template)
    namespace, name = template["metadata"]["namespace"], template["metadata"]["name"]
    try:
        kube.resource_claim_templates.create(namespace, body)
    except AlreadyExists:
        if touch(kube, namespace, name, datetime.now(UTC)):
            return False
        kube.resource_claim_templates.create(namespace, body)
    return True


def claim_spec_of(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The spec of ResourceClaim ``namespace/name``, or None when it does not exist (yet)."""
    try:
        claim = kube.resource_claims.get(namespace, name)
    except NotFound:
        return None
    spec: dict[str, Any] = plain(kube, claim).get("spec") or {}
    return spec


def template_spec_of(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The claim spec inside ResourceClaimTemplate ``namespace/name``, or None when it does not exist."""
    try:
        template = kube.resource_claim_templates.get(namespace, name)
    except NotFound:
        return None
    spec: dict[str, Any] = (plain(kube, template).get("spec") or {}).get("spec") or {}
    return spec
