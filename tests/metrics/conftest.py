"""Metrics tests reuse the prepare area's node (published mock cards + a NodePreparer under tmp_path)."""

from __future__ import annotations

from tests.prepare.conftest import make_node, node  # noqa: F401 - fixtures shared with tests/prepare
