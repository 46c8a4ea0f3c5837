"""Health taints: the ``<driver>/unhealthy`` device taint an unhealthy card's devices carry.

Owns: ``HEALTH_TAINT_SUFFIX``, ``health_taint`` and ``taint_unhealthy``. Every device published for
an unhealthy card (the card itself, its partitions or replicas) gets the taint, so the allocator
skips all of them unless a claim tolerates it. It must never decide whether a card is healthy (the
health monitors in ``dra_driver.devices.health`` do) and never sets ``timeAdded`` (the API server
fills it in).
"""

from __future__ import annotations

import re

from dra_driver.kube.models import DeviceTaint
from dra_driver.slices.options import SliceOptions
from dra_driver.slices.shapes import CardGroup

HEALTH_TAINT_SUFFIX = "unhealthy"
DEFAULT_REASON = "Unhealthy"
_MAX_LABEL_VALUE = 63
_INVALID = re.compile(r"[^A-Za-z0-9._-]+")
_EDGES = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def reason_value(message: str) -> str:
    """The short reason before the first ``:`` of a health message, as a valid label value.

    Health messages start with a short reason (``XID-79: ...``); characters a label value cannot
    hold become ``-``, the result is cut to 63 characters and must start and end alphanumeric.
    An empty result becomes ``Unhealthy``.
    """
    head = message.split(":", 1)[0].strip()
    value = _EDGES.sub("", _INVALID.sub("-", head)[:_MAX_LABEL_VALUE])
    return value or DEFAULT_REASON


def health_taint(driver: str, message: str, options: SliceOptions) -> DeviceTaint:
    """The taint of an unhealthy card of ``driver``; the effect comes from ``options``."""
    return DeviceTaint(
        key=f"{driver}/{HEALTH_TAINT_SUFFIX}",
        value=reason_value(message),
        effect=options.health_taint_effect,
    )


def taint_unhealthy(group: CardGroup, driver: str, options: SliceOptions) -> CardGroup:
    """Add the health taint to every device of ``group`` when its card is unhealthy.

    Nothing changes for a healthy card or when ``options`` say taints cannot be published (the
    gate DRADeviceTaints is off): the card is then published as it is.
    """
    if group.card.healthy or not options.publish_taints:
        return group
    for device in group.devices:
        device.taints = [*(device.taints or []), health_taint(driver, group.card.health_message, options)]
    return group
