"""Turning vendor version strings into strict Semantic Versioning for ``version`` attributes.

Owns: ``normalize_version`` (driver/firmware strings such as NVIDIA's ``580.95.05``) and
``cuda_version_from_int`` (NVML's integer CUDA driver version). The API server rejects a whole
ResourceSlice when one ``version`` attribute is not SemVer 2.0.0 (ROCm/gpu-operator#609), so every
vendor version goes through here before it becomes a ``Version``.
It must never guess: input it cannot read raises ``ValueError`` naming the input, and the caller
decides whether to omit the attribute or fail discovery.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from dra_driver.devices.base import Version

# A vendor version: 1 to N numeric components, optional pre-release and build parts. Numeric
# components may carry leading zeros ("580.95.05"); SemVer forbids them, so they are stripped.
_VENDOR_VERSION = re.compile(
    r"[vV]?(?P<numbers>\d+(?:\.\d+)*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def _strip_numeric_identifier(identifier: str) -> str:
    """SemVer forbids leading zeros in numeric pre-release identifiers; alphanumerics are kept."""
    return str(int(identifier)) if identifier.isdigit() else identifier


def normalize_version(text: str) -> Version:
    """Return ``text`` as a valid semantic version.

    ``"580.95.05"`` → ``580.95.5``, ``"12.4"`` → ``12.4.0``, ``"535"`` → ``535.0.0``,
    ``"24.1.0-rc1"`` stays as it is, a leading ``v`` is dropped. Components beyond the third
    (AMD's ``6.19.14.31400000``) move into build metadata (``6.19.14+31400000``) so no
    information is lost and ordering by MAJOR.MINOR.PATCH still works.

    Raises ``ValueError`` naming the input when it is not a version at all.
    """
    match = _VENDOR_VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"cannot read version {text!r}: expected digits separated by dots, like 580.95.05")
    numbers = [str(int(part)) for part in match.group("numbers").split(".")]
    core = [*numbers, "0", "0"][:3]
    semver = ".".join(core)
    pre = match.group("pre")
    if pre is not None:
        semver += "-" + ".".join(_strip_numeric_identifier(part) for part in pre.split("."))
    build_parts = numbers[3:]
    if match.group("build") is not None:
        build_parts.append(match.group("build"))
    if build_parts:
        semver += "+" + ".".join(build_parts)
    try:
        return Version(semver=semver)
    except ValidationError as error:
        # Only reachable for over-long input: the regex above already guarantees the shape.
        raise ValueError(
            f"cannot read version {text!r}: {semver!r} is not a valid semantic version"
        ) from error


def cuda_version_from_int(value: int) -> Version:
    """Decode NVML's ``nvmlSystemGetCudaDriverVersion`` integer (``1000*major + 10*minor``).

    ``12040`` → ``12.4.0``; ``13000`` → ``13.0.0``. Raises ``ValueError`` naming the value when it
    is not positive (NVML never reports CUDA 0).
    """
    if value <= 0:
        raise ValueError(f"CUDA driver version {value} is not a positive 1000*major + 10*minor integer")
    major, rest = divmod(value, 1000)
    return Version(semver=f"{major}.{rest // 10}.0")
