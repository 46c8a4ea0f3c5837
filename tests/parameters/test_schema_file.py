"""The committed JSON schema under api/schemas/ matches the model (regenerate when it does not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dra_driver.parameters import API_VERSION, KIND
from dra_driver.parameters.schema import (
    DEFAULT_SCHEMA_PATH,
    REGENERATE,
    SCHEMA_ID,
    accelerator_config_schema,
    main,
    schema_text,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_fresh() -> None:
    committed = REPO_ROOT / "api" / "schemas" / "acceleratorconfig.hdra.io_v1alpha1.json"
    assert committed == DEFAULT_SCHEMA_PATH
    assert committed.is_file(), f"{committed} is missing; run `{REGENERATE}` from the repository root"
    assert committed.read_text(encoding="utf-8") == schema_text(), (
        f"{committed} is stale (the AcceleratorConfig model changed); run `{REGENERATE}` and commit it"
    )


def test_schema_identifies_itself() -> None:
    schema = accelerator_config_schema()
    assert list(schema)[:2] == ["$schema", "$id"]
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] == f"{API_VERSION} {KIND}"
    assert schema["required"] == ["apiVersion", "kind"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "apiVersion",
        "kind",
        "corePolicy",
        "priority",
        "enforcement",
        "logLevel",
        "ascend",
    }
    text = schema_text()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "$schema": ')


def test_cli_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schemas" / "out.json"
    assert main(["--check", "--output", str(target)]) == 1
    assert f"run `{REGENERATE}` to create it" in capsys.readouterr().err
    assert main(["--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == accelerator_config_schema()
    assert main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace('"default"', '"stale"'), encoding="utf-8")
    assert main(["--check", "--output", str(target)]) == 1
    assert f"stale (differs from the model); run `{REGENERATE}`" in capsys.readouterr().err
