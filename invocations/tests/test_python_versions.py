"""The Python versions the host offers, as the console's starter functions pick theirs."""

from __future__ import annotations

import pytest

from invocations import selectors
from invocations.executor import catalog


def test_it_lists_python_versions_oldest_first_by_number(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {"3.12": "/a", "3.9": "/b", "3.10": "/c"}
    monkeypatch.setattr(catalog, "python_interpreters", lambda: found)

    assert selectors.python_versions_installed() == ["3.9", "3.10", "3.12"]
