"""CDI names: kinds, device names and fully qualified device ids, checked like the CDI parser.

Owns: the syntax rules of ``<vendor>/<class>=<name>`` (cdi ``pkg/parser/parser.go``), the hdra
kind ``hdra.io/<vendor>`` (DESIGN §2) and the per-claim device naming scheme
``<claim-uid>-<device>[-<share-id-prefix>]``. Every error names the part that is wrong and shows
the offending value. It must never touch files.
"""

from __future__ import annotations

import re

from dra_driver.cdi.errors import CdiError
from dra_driver.cdi.uids import validate_claim_uid

HDRA_CDI_VENDOR = "hdra.io"
"""The vendor part of every hdra CDI kind."""

SHARE_ID_PREFIX_LENGTH = 8
"""How many characters of a share id go into a device name (enough to keep shares apart in a claim)."""

# cdi pkg/parser: vendor and class start with a letter, end with a letter or digit, and contain
# letters, digits, '_', '-' and '.'; device names start and end alphanumeric and may also hold ':'.
_VENDOR_OR_CLASS = re.compile(r"[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")
_DEVICE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?")
_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9_.:-]")

# The CDI SPEC caps the class (the kind's name part) at 63 characters and the vendor at 253.
_MAX_VENDOR = 253
_MAX_CLASS = 63


def _check_vendor_or_class(value: str, part: str, limit: int) -> None:
    if not value:
        raise CdiError(f"CDI {part} is empty")
    if len(value) > limit:
        raise CdiError(f"CDI {part} {value!r} is longer than {limit} characters")
    if _VENDOR_OR_CLASS.fullmatch(value) is None:
        raise CdiError(
            f"CDI {part} {value!r} is invalid: it must start with a letter, end with a letter or digit "
            "and contain only letters, digits, '_', '-' and '.'"
        )


def validate_vendor(vendor: str) -> str:
    """Return ``vendor`` if it is a valid CDI vendor name, else raise ``CdiError`` naming it."""
    _check_vendor_or_class(vendor, "vendor", _MAX_VENDOR)
    return vendor


def validate_class(cls: str) -> str:
    """Return ``cls`` if it is a valid CDI class name, else raise ``CdiError`` naming it."""
    _check_vendor_or_class(cls, "class", _MAX_CLASS)
    return cls


def parse_kind(kind: str) -> tuple[str, str]:
    """Split ``vendor/class`` into its validated parts."""
    vendor, slash, cls = kind.partition("/")
    if not slash:
        raise CdiError(f"CDI kind {kind!r} is not of the form vendor/class")
    try:
        return validate_vendor(vendor), validate_class(cls)
    except CdiError as exc:
        raise CdiError(f"CDI kind {kind!r}: {exc}") from exc


def validate_device_name(name: str) -> str:
    """Return ``name`` if it is a valid CDI device name, else raise ``CdiError`` naming the bad character."""
    if not name:
        raise CdiError("CDI device name is empty")
    if _DEVICE_NAME.fullmatch(name) is not None:
        return name
    for char in name:
        if _NAME_CHARACTERS.fullmatch(char) is None:
            raise CdiError(f"CDI device name {name!r} contains the invalid character {char!r}")
    raise CdiError(f"CDI device name {name!r} must start and end with a letter or digit")


def cdi_kind(vendor: str) -> str:
    """The CDI kind of one hdra backend: ``hdra.io/<vendor>`` (e.g. ``hdra.io/nvidia``)."""
    validate_class(vendor)
    return f"{HDRA_CDI_VENDOR}/{vendor}"


def qualified_name(kind: str, device: str) -> str:
    """The fully qualified CDI device id ``vendor/class=name`` the kubelet passes to the runtime."""
    parse_kind(kind)
    try:
        validate_device_name(device)
    except CdiError as exc:
        raise CdiError(f"CDI device of kind {kind!r}: {exc}") from exc
    return f"{kind}={device}"


def parse_qualified_name(qualified: str) -> tuple[str, str, str]:
    """Split ``vendor/class=name`` into validated (vendor, class, name)."""
    kind, equals, name = qualified.partition("=")
    if not equals:
        raise CdiError(f"CDI device id {qualified!r} is not of the form vendor/class=name")
    vendor, cls = parse_kind(kind)
    try:
        validate_device_name(name)
    except CdiError as exc:
        raise CdiError(f"CDI device id {qualified!r}: {exc}") from exc
    return vendor, cls, name


def device_name(claim_uid: str, device: str, share_id: str = "") -> str:
    """A CDI device name unique per claim, device and share: ``<claim-uid>-<device>[-<share-prefix>]``.

    The claim UID makes names fresh per claim, so a runtime's cached spec of an earlier claim can
    never resolve (DESIGN §9); the share id prefix keeps two shares of one device in one claim apart.
    Names that still collide inside one spec are rejected when the spec is built.
    """
    validate_claim_uid(claim_uid)
    if not device:
        raise CdiError(f"device name for claim {claim_uid} is empty")
    name = f"{claim_uid}-{device}"
    if share_id:
        prefix = "".join(char for char in share_id if char.isascii() and char.isalnum())
        if not prefix:
            raise CdiError(f"share id {share_id!r} of device {device!r} has no letters or digits")
        name = f"{name}-{prefix[:SHARE_ID_PREFIX_LENGTH]}"
    try:
        return validate_device_name(name)
    except CdiError as exc:
        raise CdiError(f"device {device!r} of claim {claim_uid}: {exc}") from exc
