from __future__ import annotations

import os

import pytest

from conftest import create_function, make_zip

pytestmark = pytest.mark.live

CONCURRENCY = int(os.environ.get("FUNCTORY_ACCOUNT_CONCURRENCY", "1000"))
STORAGE = int(os.environ.get("FUNCTORY_CODE_STORAGE_LIMIT", str(75 * 1024**3)))


def test_it_reports_limits_and_usage_of_a_fresh_account(lam):
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {
        "TotalCodeSize": STORAGE,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": CONCURRENCY,
        "UnreservedConcurrentExecutions": CONCURRENCY,
    }
    assert settings["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}


def test_it_counts_functions_code_of_every_version_and_reservations(lam):
    first = create_function(lam, "one")
    lam.publish_version(FunctionName="one")
    second = create_function(lam, "two", Code={"ZipFile": make_zip({"app.py": "x = 1\n"})})
    lam.put_function_concurrency(FunctionName="two", ReservedConcurrentExecutions=250)

    settings = lam.get_account_settings()
    assert settings["AccountUsage"] == {
        "TotalCodeSize": 2 * first["CodeSize"] + second["CodeSize"],
        "FunctionCount": 2,
    }
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == CONCURRENCY - 250
