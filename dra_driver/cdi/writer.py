"""The per-claim CDI spec files in one CDI directory (normally ``/var/run/cdi``).

Owns: ``CdiWriter`` — writing, reading, listing and removing the transient spec of each prepared
claim, named ``<vendor>-<class>_<claim-uid>.json`` like the CDI library's transient specs
(cdi ``pkg/cdi/spec.go``). Writes are atomic (``dra_driver.cdi.atomic``), files are mode 0644 so
the runtime can read them, and every path is built from a validated UUID and a validated kind, so
no file is ever created outside ``cdi_dir`` (DESIGN §9). Nothing here is fsynced: a spec only
serves containers of the current boot (the CDI dir is normally tmpfs), a killed process leaves
the old or the new file, and after a power loss start-up rolls every claim back and the periodic
cleanup removes specs no checkpoint entry accounts for (DESIGN §9). It must never touch other
drivers' files or hdra files of another kind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from dra_driver.cdi.atomic import TEMP_SUFFIX, atomic_write
from dra_driver.cdi.errors import CdiError
from dra_driver.cdi.models import CdiSpec
from dra_driver.cdi.names import parse_kind
from dra_driver.cdi.uids import is_claim_uid, validate_claim_uid
from dra_driver.cdi.version import check_version

SPEC_FILE_MODE = 0o644
CDI_DIR_MODE = 0o755
_SUFFIX = ".json"


class CdiWriter:
    """Spec files of prepared claims in ``cdi_dir``; safe to use from several threads for different claims."""

    def __init__(self, cdi_dir: Path) -> None:
        if not cdi_dir.is_absolute():
            raise CdiError(f"CDI directory {cdi_dir} is not an absolute path")
        self._dir = cdi_dir

    @property
    def cdi_dir(self) -> Path:
        return self._dir

    @staticmethod
    def _prefix(kind: str) -> str:
        vendor, cls = parse_kind(kind)
        return f"{vendor}-{cls}_"

    def spec_path(self, claim_uid: str, kind: str) -> Path:
        """Where the spec of ``claim_uid`` with CDI kind ``kind`` lives (whether or not it exists)."""
        validate_claim_uid(claim_uid)
        path = self._dir / f"{self._prefix(kind)}{claim_uid}{_SUFFIX}"
        # The name holds no separator by construction; keep the invariant explicit all the same.
        if path.parent != self._dir:
            raise CdiError(f"spec path {path} for claim {claim_uid} would leave CDI directory {self._dir}")
        return path

    def write_claim_spec(self, claim_uid: str, spec: CdiSpec) -> Path:
        """Atomically write ``spec`` as the claim's spec file and return its path.

        The spec is serialised before anything is touched; on any failure the previous file (if
        any) is left as it was and no temp file remains. Raises ``CdiError`` naming the cause.
        """
        path = self.spec_path(claim_uid, spec.kind)
        check_version(spec)
        data = spec.to_json().encode()
        try:
            try:
                atomic_write(path, data, SPEC_FILE_MODE, durable=False)
            except FileNotFoundError:  # the directory is made on first use (or after it went)
                self._dir.mkdir(mode=CDI_DIR_MODE, parents=True, exist_ok=True)
                atomic_write(path, data, SPEC_FILE_MODE, durable=False)
        except OSError as exc:
            raise CdiError(f"writing CDI spec {path} for claim {claim_uid} failed: {exc}") from exc
        return path

    def read_claim_spec(self, claim_uid: str, kind: str) -> CdiSpec | None:
        """The claim's spec as written, ``None`` if there is no file; ``CdiError`` if it is unreadable."""
        path = self.spec_path(claim_uid, kind)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CdiError(f"reading CDI spec {path} failed: {exc}") from exc
        try:
            spec = CdiSpec.model_validate(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise CdiError(f"CDI spec {path} is not a valid spec: {exc}") from exc
        if spec.kind != kind:
            raise CdiError(f"CDI spec {path} has kind {spec.kind!r}, expected {kind!r}")
        check_version(spec)
        return spec

    def remove_claim_spec(self, claim_uid: str, kind: str) -> bool:
        """Delete the claim's spec file; True if one was removed, False if there was none."""
        path = self.spec_path(claim_uid, kind)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise CdiError(f"removing CDI spec {path} failed: {exc}") from exc
        return True

    def claim_uids(self, kind: str) -> set[str]:
        """UIDs of all claims with a spec file of ``kind`` in the directory (to rebuild lost state)."""
        prefix = self._prefix(kind)
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            return set()
        except OSError as exc:
            raise CdiError(f"listing CDI directory {self._dir} failed: {exc}") from exc
        uids: set[str] = set()
        for name in names:
            if name.startswith(prefix) and name.endswith(_SUFFIX):
                candidate = name[len(prefix) : -len(_SUFFIX)]
                if is_claim_uid(candidate):
                    uids.add(candidate)
        return uids

    def remove_stale_temp_files(self, kind: str) -> list[Path]:
        """Delete temp files a crash mid-write left for ``kind``; returns what was removed."""
        prefix = f".{self._prefix(kind)}"
        try:
            entries = list(self._dir.iterdir())
        except FileNotFoundError:
            return []
        removed = [
            entry
            for entry in entries
            if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX) and entry.is_file()
        ]
        for entry in removed:
            entry.unlink(missing_ok=True)
        return sorted(removed)
