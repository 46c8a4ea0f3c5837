"""Every line prepare logs about a claim carries its ``claim`` and ``uid`` fields (issue 16 item 7)."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from dra_driver.prepare import ClaimRef
from dra_driver.runtime import logs as runtime_logs
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def test_every_line_about_a_claim_names_it(node: Node, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    consumed = {"memory": "1Gi", "cores": "10", "shares": "1"}
    created = create_allocated_claim(
        node.kube, ClaimSpec("logged", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    assert created.metadata is not None and created.metadata.uid is not None
    claim = ClaimRef(created.metadata.uid, "default", "logged")
    preparer = node.preparer()
    preparer.prepare(claim)
    preparer.prepare(ClaimRef(claim.uid, "default", "logged"))  # idempotent: no new line needed
    preparer.unprepare(claim)
    # The preparer's own lines (this thread); the dev cluster's server threads log for themselves.
    records = [r for r in caplog.records if r.name.startswith("hdra.") and r.thread == threading.get_ident()]
    assert any("prepared 1 device(s)" in r.getMessage() for r in records), [r.getMessage() for r in records]
    for record in records:
        fields = runtime_logs.record_fields(record)
        assert fields.get("claim") == "default/logged" and fields.get("uid") == claim.uid, record.getMessage()
