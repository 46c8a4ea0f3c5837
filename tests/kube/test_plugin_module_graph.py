"""The production commands' module graphs hold none of the heavy client packages (issue 17 item 3,
DESIGN §3): the image installs hdra without extras, so none of them may need the official client.

``hdra kubelet-plugin`` talks to the API server through dra_driver.kube's lean client only: the
official ``kubernetes`` package (whose ``__init__`` imports every model of every API group),
``requests``/``oauthlib`` (its config loader's) and the dev tools (CEL, the OpenAPI schemas) must
never be imported there. A fresh interpreter shows what the import really pulls in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("kubernetes", "requests", "oauthlib", "kubernetes_validate", "jsonschema", "cel", "httpx")

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


@pytest.mark.parametrize(
    "module",
    [
        "dra_driver.cli.kubelet_plugin",
        "dra_driver.cli.webhook",
        "dra_driver.cli.controller",
        "dra_driver.cli.top",
        "dra_driver.cli.discover",
    ],
)
def test_production_commands_import_no_heavy_client(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout))
    assert "pydantic" in imported  # the probe sees real imports (the models are pydantic)
    assert not imported & set(FORBIDDEN), f"{module} imports {sorted(imported & set(FORBIDDEN))}"
    # nvidia-ml-py is loaded when the NVIDIA backend is chosen, not by importing the command.
    assert "pynvml" not in imported
