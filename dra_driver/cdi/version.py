"""Which ``cdiVersion`` a spec needs, and building specs that declare exactly that version.

Owns: ``KNOWN_VERSIONS``, ``minimum_version`` (the rules of cdi ``specs-go/version.go``),
``check_version`` and ``build_spec``. hdra always writes the *lowest* version its fields need:
a runtime built against an older CDI library rejects versions it does not know (podman 4.3 reads
0.3.0-0.5.0 only, reference/testing.md §8), so a spec without annotations, additional gids or net
devices stays readable there. It must never raise a version for anything but a field that needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from dra_driver.cdi.errors import CdiError
from dra_driver.cdi.models import CdiDevice, CdiSpec, ContainerEdits
from dra_driver.cdi.names import parse_kind

KNOWN_VERSIONS: tuple[str, ...] = (
    "0.1.0",
    "0.2.0",
    "0.3.0",
    "0.4.0",
    "0.5.0",
    "0.6.0",
    "0.7.0",
    "0.8.0",
    "1.0.0",
    "1.1.0",
)
"""Every released cdiVersion, oldest first."""

EARLIEST_VERSION = "0.3.0"
"""The oldest version the CDI library still accepts; the floor of ``minimum_version``."""


def version_key(version: str) -> tuple[int, int, int]:
    """A sortable key for ``MAJOR.MINOR.PATCH`` (a leading ``v`` is allowed, as the library does)."""
    parts = version.removeprefix("v").split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise CdiError(f"cdiVersion {version!r} is not MAJOR.MINOR.PATCH")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _all_edits(spec: CdiSpec) -> list[ContainerEdits]:
    return [spec.container_edits, *(device.container_edits for device in spec.devices)]


def minimum_version(spec: CdiSpec) -> str:
    """The lowest cdiVersion that can express every field ``spec`` uses (never below 0.3.0)."""
    edits = _all_edits(spec)
    if any(edit.net_devices for edit in edits):
        return "1.1.0"
    if any(edit.additional_gids for edit in edits):
        return "0.7.0"
    _, cls = parse_kind(spec.kind)
    if spec.annotations or any(device.annotations for device in spec.devices) or "." in cls:
        return "0.6.0"
    host_paths = any(node.host_path for edit in edits for node in edit.device_nodes)
    # Before 0.5.0 a device name had to start with a letter; claim-UID names often start with a digit.
    digit_names = any(not device.name[0].isalpha() for device in spec.devices)
    if host_paths or digit_names:
        return "0.5.0"
    if any(mount.type for edit in edits for mount in edit.mounts):
        return "0.4.0"
    return EARLIEST_VERSION


def check_version(spec: CdiSpec) -> None:
    """Raise ``CdiError`` unless ``spec.cdi_version`` is known and at least ``minimum_version(spec)``."""
    if spec.cdi_version.removeprefix("v") not in KNOWN_VERSIONS:
        raise CdiError(
            f"CDI spec of kind {spec.kind!r} declares unknown cdiVersion {spec.cdi_version!r} "
            f"(known: {', '.join(KNOWN_VERSIONS)})"
        )
    needed = minimum_version(spec)
    if version_key(spec.cdi_version) < version_key(needed):
        raise CdiError(
            f"CDI spec of kind {spec.kind!r} declares cdiVersion {spec.cdi_version} "
            f"but its fields need {needed}"
        )


def build_spec(
    kind: str,
    devices: Sequence[CdiDevice],
    container_edits: ContainerEdits | None = None,
    annotations: Mapping[str, str] | None = None,
) -> CdiSpec:
    """A validated spec that declares the minimum cdiVersion its fields need.

    Raises ``CdiError`` naming the cause for an invalid kind, device name, empty device edits or
    a duplicate device name.
    """
    try:
        draft = CdiSpec(
            cdi_version=EARLIEST_VERSION,
            kind=kind,
            annotations=dict(annotations or {}),
            devices=tuple(devices),
            container_edits=container_edits or ContainerEdits(),
        )
    except ValidationError as exc:
        raise CdiError(f"invalid CDI spec of kind {kind!r}: {exc}") from exc
    return draft.model_copy(update={"cdi_version": minimum_version(draft)})
