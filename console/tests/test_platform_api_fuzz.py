"""The platform API fuzzed against its own OpenAPI schema (schemathesis), on a live server:
whatever the input, no answer is a 5xx, and every answer (status, content type, body) is
one the schema documents.

The caller is a signed-in console admin with a real function, so the generated requests
reach the services, not only the 404 of a function that does not exist.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import Credentials, LiveServer, client_for, create_function

pytestmark = [pytest.mark.live, pytest.mark.sandbox]


def _import_all(package: str, skip: tuple[str, ...]) -> None:
    """Import every module of ``package`` now. Hypothesis and schemathesis import some of
    theirs lazily, inside a test, where Hypothesis has raised the recursion limit; pytest
    rewrites their modules (both are pytest plugins) and CPython 3.11.7's compile() then
    fails with "AST constructor recursion depth mismatch" (a CPython bug). Imported here,
    nothing is compiled inside the test."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(part in skip for part in parts):
            continue
        with contextlib.suppress(Exception):  # optional extras whose packages are absent
            importlib.import_module(".".join(parts))


_import_all("hypothesis", skip=("extra", "__main__"))
_import_all("schemathesis", skip=("cli", "reporting", "__main__"))

FUNCTION = "fuzzed"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Console:
    """A signed-in console session, as the browser holds it."""

    def __init__(self, server: LiveServer) -> None:
        name, password = f"fuzzer-{uuid.uuid4().hex[:8]}", "fuzzing-pass-1"
        made = server.manage("createuser", name, "--admin", "--password", password, "--access-key")
        assert made.returncode == 0, made.stderr
        minted = json.loads(made.stdout)
        self.credentials = Credentials(
            account_id=minted["AccountId"],
            user_name=minted["UserName"],
            access_key_id=minted["AccessKeyId"],
            secret_access_key=minted["SecretAccessKey"],
        )
        self.session = requests.Session()
        self.session.get(f"{server.url}/login/", timeout=10)
        signed_in = self.session.post(
            f"{server.url}/login/",
            data={
                "username": f"{minted['AccountId']}/{name}",
                "password": password,
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
            },
            headers={"Referer": f"{server.url}/login/"},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text
        # Unsafe methods need the CSRF token as the console's scripts send it.
        self.session.headers["X-CSRFToken"] = str(self.session.cookies["csrftoken"])
        self.session.headers["Referer"] = f"{server.url}/"


@pytest.fixture(scope="module")
def console(functory: LiveServer) -> Console:
    signed_in = Console(functory)
    create_function(client_for(functory, signed_in.credentials), FUNCTION)
    return signed_in


def _generated() -> dict[str, Any]:
    """The schema as the server serves it (JSON-rendered: plain types only)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    rendered: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(document))
    return rendered


# Built at collection (pytest-django has set Django up), so each operation is a test case.
SCHEMA = _generated()
schema = schemathesis.openapi.from_dict(SCHEMA)


def test_the_server_serves_the_schema_the_fuzzing_uses(functory: LiveServer) -> None:
    served = requests.get(f"{functory.url}/_functory/api/schema?format=json", timeout=30)
    assert served.status_code == 200
    assert served.json() == SCHEMA


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_platform_api_fail_or_stray_from_its_schema(
    case: Any, console: Console, functory: LiveServer
) -> None:
    if "name" in case.path_parameters:
        case.path_parameters["name"] = FUNCTION
    case.call_and_validate(base_url=functory.url, session=console.session, checks=CHECKS)
