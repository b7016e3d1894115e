"""A runtime that exits after answering, instead of asking for the next event, costs the
next invocation a cold start, never an error (as on AWS, which resets such an
environment). AWS's Ruby runtime does so after a critical error; a one-shot custom runtime
after every event."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import client_for, create_function, create_user
from invocations.tests.helpers import invoke, zip_with_modes

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

# Answers one event with its process id, then exits (status 0).
ONE_SHOT = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
HEADERS="$(mktemp)"
curl -sS -LD "$HEADERS" "$API/next" >/dev/null
ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
curl -sS -X POST "$API/$ID/response" -d "{\\"pid\\": $$}" >/dev/null
"""


@pytest.fixture(
    params=[
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def any_lam(request: pytest.FixtureRequest) -> Any:
    fixture = "functory" if request.param == "sandbox" else "functory_docker"
    server = request.getfixturevalue(fixture)
    return client_for(server, create_user(server))


def test_a_runtime_that_exits_after_answering_is_replaced_for_the_next_invocation(any_lam):
    create_function(
        any_lam,
        "oneshot",
        Runtime="provided.al2023",
        Handler="unused.handler",
        Code={"ZipFile": zip_with_modes({"bootstrap": (ONE_SHOT, 0o755)})},
    )
    for _ in range(3):
        response = invoke(any_lam, "oneshot", LogType="Tail")
        assert "FunctionError" not in response, response["Body"]
        assert isinstance(response["Body"]["pid"], int)
        assert "Init Duration" in response["Log"]
