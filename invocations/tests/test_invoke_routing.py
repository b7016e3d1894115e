"""Qualifiers, alias traffic shifting, layers on the import path, the environment."""

from __future__ import annotations

import base64
import json

import pytest

from conftest import create_function, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

VERSIONED = """
VERSION = {version!r}

def handler(event, context):
    return {{"code": VERSION, "version": context.function_version,
             "arn": context.invoked_function_arn}}
"""

ENVIRONMENT = """
import os, sys

NAMES = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
         "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
         "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
         "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ", "PATH", "LD_LIBRARY_PATH",
         "AWS_LAMBDA_RUNTIME_API", "MY_SETTING"]

def handler(event, context):
    import shared_helper
    return {"env": {name: os.environ.get(name) for name in NAMES},
            "layer": shared_helper.VALUE,
            "client": context.client_context.custom if context.client_context else None,
            "stream": context.log_stream_name}
"""


def _versioned(version: str) -> bytes:
    return make_zip({"app.py": VERSIONED.format(version=version)})


def test_qualifiers_select_versions_and_report_the_executed_version(lam, credentials):
    create_function(lam, "q", Code={"ZipFile": _versioned("one")}, Publish=True)
    lam.update_function_code(FunctionName="q", ZipFile=_versioned("two"))
    latest = invoke(lam, "q")
    assert latest["ExecutedVersion"] == "$LATEST" and latest["Body"]["code"] == "two"
    first = invoke(lam, "q", Qualifier="1")
    assert first["ExecutedVersion"] == "1" and first["Body"]["code"] == "one"
    assert first["Body"]["arn"].endswith(":function:q:1")
    lam.create_alias(FunctionName="q", Name="live", FunctionVersion="1")
    via_alias = invoke(lam, "q:live")
    assert via_alias["ExecutedVersion"] == "1"
    assert via_alias["Body"]["arn"] == (
        f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:q:live"
    )


def test_a_weighted_alias_shifts_traffic_to_the_second_version(lam):
    create_function(lam, "shift", Code={"ZipFile": _versioned("one")}, Publish=True)
    lam.update_function_code(FunctionName="shift", ZipFile=_versioned("two"), Publish=True)
    lam.create_alias(
        FunctionName="shift",
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
    )
    executed = [
        lam.invoke(FunctionName="shift", Qualifier="canary", Payload=b"{}")["ExecutedVersion"]
        for _ in range(1000)
    ]
    share = executed.count("2") / len(executed)
    assert set(executed) == {"1", "2"}
    assert 0.16 <= share <= 0.24, share


def test_layers_are_on_the_import_path_and_the_environment_is_lambdas(lam):
    layer = lam.publish_layer_version(
        LayerName="helpers",
        Content={"ZipFile": make_zip({"python/shared_helper.py": "VALUE = 'from a layer'\n"})},
    )
    create_function(
        lam,
        "env",
        Code={"ZipFile": make_zip({"app.py": ENVIRONMENT})},
        Layers=[layer["LayerVersionArn"]],
        MemorySize=256,
        Environment={"Variables": {"MY_SETTING": "on"}},
    )
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    body = invoke(lam, "env", ClientContext=context)["Body"]
    assert body["layer"] == "from a layer"
    assert body["client"] == {"tenant": "t1"}
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["stream"]
    assert "/[$LATEST]" in body["stream"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC"
    assert "/usr/bin" in env["PATH"]
    assert "/opt/lib" in env["LD_LIBRARY_PATH"]
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["MY_SETTING"] == "on"
