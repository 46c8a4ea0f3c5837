"""The JSON schema of ``AcceleratorConfig`` and the committed copy under ``api/schemas/``.

Owns: ``accelerator_config_schema()`` (pydantic's validation schema by alias, plus ``$schema``
and ``$id``), its stable text form, and ``python -m dra_driver.parameters.schema [--check]``,
which writes the file or (with ``--check``) exits 1 when the committed file differs. The model is
the source of truth; this module must never edit the schema by hand beyond the identifying keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from .model import API_VERSION, KIND, AcceleratorConfig

SCHEMA_FILE_NAME: Final = "acceleratorconfig.hdra.io_v1alpha1.json"
DEFAULT_SCHEMA_PATH: Final = Path(__file__).resolve().parents[2] / "api" / "schemas" / SCHEMA_FILE_NAME
"""``api/schemas/<file>`` in the source tree this module belongs to."""

SCHEMA_ID: Final = f"https://hdra.io/schemas/{SCHEMA_FILE_NAME}"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
REGENERATE: Final = "python -m dra_driver.parameters.schema"


def accelerator_config_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of one ``AcceleratorConfig`` as written in a claim."""
    body = AcceleratorConfig.model_json_schema(by_alias=True, mode="validation")
    body["title"] = f"{API_VERSION} {KIND}"
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID, **body}


def schema_text() -> str:
    """The file's exact content: pydantic's key order, indent 2, a trailing newline."""
    return json.dumps(accelerator_config_schema(), indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schema file, or with ``--check`` report (exit 1) that it is missing or stale."""
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description=f"Write or check the JSON schema of {API_VERSION} {KIND}."
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DEFAULT_SCHEMA_PATH, help="schema file path")
    args = parser.parse_args(argv)
    path: Path = args.output
    wanted = schema_text()
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(f"{path}: missing; run `{REGENERATE}` to create it", file=sys.stderr)
            return 1
        if current != wanted:
            print(
                f"{path}: stale (differs from the model); run `{REGENERATE}` to regenerate it",
                file=sys.stderr,
            )
            return 1
        print(f"{path}: up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted, encoding="utf-8")
    print(f"{path}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
