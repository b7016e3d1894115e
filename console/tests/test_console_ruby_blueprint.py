"""The console's Ruby blueprint runs as written, on the sandbox and the Docker backend."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ROLE, client_for, create_user
from console.blueprints import blueprint_get
from functions import package_files
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live]


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


def test_the_ruby_blueprint_answers_and_logs_the_event(any_lam):
    blueprint = blueprint_get("hello-ruby")
    assert blueprint is not None
    any_lam.create_function(
        FunctionName="hello-ruby",
        Runtime=blueprint.runtime,
        Handler=blueprint.handler,
        Role=ROLE,
        Code={"ZipFile": package_files.build(blueprint.files)},
    )
    response = invoke(any_lam, "hello-ruby", {"key1": "value1"}, LogType="Tail")
    assert "FunctionError" not in response, response["Body"]
    assert response["Body"] == {"statusCode": 200, "body": '"Hello from Lambda!"'}
    assert 'Hello from Functory! {"key1":"value1"}' in response["Log"]
