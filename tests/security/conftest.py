"""The hostile-tenant suite (issue 10): every test here plays a tenant who wants out."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test in this folder is a security test, whatever file it lives in.
    for item in items:
        if "tests/security/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.security)
