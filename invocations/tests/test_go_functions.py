"""Go functions on provided.al2023 and provided.al2 (issue 15, item 3; the seed's Go chapter).

As on AWS since go1.x was retired, a Go function is a ``bootstrap`` binary that speaks the
Runtime API. The test builds one with the host's Go toolchain (Debian's golang-go, installed
by scripts/sdk-clients.sh) from fixtures/go-function: standard library only, no module
downloads (GOPROXY=off), statically linked (CGO_ENABLED=0), and runs it on both backends.
``go1.x`` itself is refused with AWS's deprecation message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LiveServer, client_error, client_for, create_function, create_user
from invocations.tests.helpers import invoke, zip_with_modes

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

SOURCE = Path(__file__).parent / "fixtures" / "go-function"
GO1X_REFUSED = (
    "InvalidParameterValueException",
    "The runtime parameter of go1.x is no longer supported for creating or updating AWS "
    "Lambda functions. We recommend you use the new runtime (provided.al2023) while creating "
    "or updating functions.",
    400,
)


def go_build(source: Path, output: Path) -> None:
    """``go build`` a bootstrap for Linux with nothing fetched: the standard library's build
    cache is shared through the temp dir (setup's scripts/go-blueprint.sh fills it)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("no Go toolchain: scripts/sdk-clients.sh installs Debian's golang-go")
    tmp = Path(tempfile.gettempdir())
    env = {
        **os.environ,
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOCACHE": str(tmp / "functory-go-cache"),
        "GOPATH": str(tmp / "functory-gopath"),
    }
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(output), "."],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def go_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    output = tmp_path_factory.mktemp("go-function") / "bootstrap"
    go_build(SOURCE, output)
    return zip_with_modes({"bootstrap": (output.read_bytes(), 0o755)})


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def server(request: pytest.FixtureRequest) -> LiveServer:
    name = "functory" if request.param == "sandbox" else "functory_docker"
    live: LiveServer = request.getfixturevalue(name)
    return live


@pytest.fixture
def golam(server: LiveServer) -> Any:
    return client_for(server, create_user(server))


def _go_function(client: Any, name: str, go_zip: bytes, **overrides: Any) -> None:
    params: dict[str, Any] = {
        "Runtime": "provided.al2023",
        "Handler": name,
        "Code": {"ZipFile": go_zip},
    }
    params.update(overrides)
    create_function(client, name, **params)


def test_a_go_hello_world_answers_and_logs(golam: Any, go_zip: bytes) -> None:
    _go_function(golam, "hello", go_zip)
    response = invoke(golam, "hello", {"name": "Gopher"}, LogType="Tail")
    assert "FunctionError" not in response
    assert response["Body"]["message"] == "Hello, Gopher!"
    assert response["Body"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert "Hello from Go, Gopher!" in response["Log"]
    assert "REPORT RequestId:" in response["Log"]


def test_a_go_function_runs_on_provided_al2_too(golam: Any, go_zip: bytes) -> None:
    _go_function(golam, "hello", go_zip, Runtime="provided.al2")
    assert invoke(golam, "hello", {"name": "al2"})["Body"]["message"] == "Hello, al2!"


def test_a_go_error_is_reported_with_its_error_type(golam: Any, go_zip: bytes) -> None:
    _go_function(golam, "fail", go_zip)
    response = invoke(golam, "fail", {})
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"] == {
        "errorType": "InvalidInputError",
        "errorMessage": "no name in the event",
    }


def test_a_go_function_reads_its_environment_variables(golam: Any, go_zip: bytes) -> None:
    _go_function(golam, "env", go_zip, Environment={"Variables": {"GREETING": "hej"}})
    assert invoke(golam, "env")["Body"] == {
        "GREETING": "hej",
        "AWS_LAMBDA_FUNCTION_NAME": "env",
        "_HANDLER": "env",
        "LAMBDA_TASK_ROOT": "/var/task",
    }


def test_a_warm_go_environment_keeps_its_globals(golam: Any, go_zip: bytes) -> None:
    _go_function(golam, "count", go_zip)
    first = invoke(golam, "count")["Body"]
    second = invoke(golam, "count")["Body"]
    assert first["invocations"] == 1
    assert second == {"invocations": 2, "pid": first["pid"]}


def test_go1x_is_refused_with_awss_deprecation_message(raw_lam: Any) -> None:
    with pytest.raises(ClientError) as created:
        create_function(raw_lam, "legacy-go", Runtime="go1.x", Handler="main")
    assert client_error(created) == GO1X_REFUSED
    create_function(raw_lam, "current-go", Runtime="provided.al2023", Handler="main")
    with pytest.raises(ClientError) as updated:
        raw_lam.update_function_configuration(FunctionName="current-go", Runtime="go1.x")
    assert client_error(updated) == GO1X_REFUSED
    configuration = raw_lam.get_function_configuration(FunctionName="current-go")
    assert configuration["Runtime"] == "provided.al2023"
