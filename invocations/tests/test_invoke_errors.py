"""Each failure mode of an invocation, answered as Lambda answers it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import create_function, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

APP = """
import os, sys, time

def sleepy(event, context):
    time.sleep(10)

def crash(event, context):
    print("about to exit")
    sys.stdout.flush()
    os._exit(3)

def big(event, context):
    return "x" * (7 * 1024 * 1024)

def echo(event, context):
    return len(event["data"])

def unserialisable(event, context):
    return {1, 2}
"""


def _fn(lam, name, handler, **kwargs):
    create_function(
        lam, name, Handler=handler, Code={"ZipFile": make_zip({"app.py": APP})}, **kwargs
    )


def test_a_timeout_is_reported_as_sandbox_timedout(lam):
    _fn(lam, "sleepy", "app.sleepy", Timeout=1)
    response = invoke(lam, "sleepy", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert response["Body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in response["Log"]
    # The environment was replaced: the next call starts cold and still times out cleanly.
    assert invoke(lam, "sleepy")["Body"]["errorType"] == "Sandbox.Timedout"


def test_a_missing_module_is_an_import_error(lam):
    _fn(lam, "nomodule", "missing.handler")
    response = invoke(lam, "nomodule", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert response["Body"]["errorMessage"] == (
        "Unable to import module 'missing': No module named 'missing'"
    )
    assert "Runtime.ImportModuleError" in response["Log"]


def test_a_missing_handler_function_is_handler_not_found(lam):
    _fn(lam, "nohandler", "app.nothing")
    response = invoke(lam, "nohandler")
    assert response["Body"]["errorType"] == "Runtime.HandlerNotFound"
    assert response["Body"]["errorMessage"] == "Handler 'nothing' missing on module 'app'"


def test_a_runtime_that_exits_is_an_exit_error(lam):
    _fn(lam, "crash", "app.crash")
    response = invoke(lam, "crash", LogType="Tail")
    assert response["Body"]["errorType"] == "Runtime.ExitError"
    assert response["Body"]["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert "about to exit" in response["Log"]


def test_a_response_over_6_mb_is_refused(lam):
    _fn(lam, "big", "app.big")
    response = invoke(lam, "big")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Function.ResponseSizeTooLarge"


def test_an_unserialisable_result_is_a_marshal_error(lam):
    _fn(lam, "marshal", "app.unserialisable")
    assert invoke(lam, "marshal")["Body"]["errorType"] == "Runtime.MarshalError"


def test_a_request_over_6_mb_is_refused_before_running(lam):
    _fn(lam, "echo", "app.echo")
    assert invoke(lam, "echo", {"data": "x" * 1000})["Body"] == 1000
    with pytest.raises(ClientError) as error:
        invoke(lam, "echo", {"data": "x" * (6 * 1024 * 1024)})
    assert error.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_a_payload_that_is_not_json_is_refused(lam):
    _fn(lam, "json", "app.echo")
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="json", Payload=b"{not json")
    assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
