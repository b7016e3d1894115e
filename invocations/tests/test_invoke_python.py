from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from conftest import create_function, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

APP = """
import os
count = 0

def handler(event, context):
    global count
    count += 1
    print("hello", event.get("name"))
    return {
        "count": count,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "GREETING", "_HANDLER")},
    }

def fail(event, context):
    raise ValueError("boom")
"""


def _invoke(lam, name, payload=None, **kwargs):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}), **kwargs)
    response["Body"] = json.loads(response["Payload"].read())
    return response


def test_it_invokes_a_python_function_and_reuses_the_warm_environment(lam, credentials):
    create_function(
        lam,
        "py",
        Code={"ZipFile": make_zip({"app.py": APP})},
        Environment={"Variables": {"GREETING": "hi"}},
    )
    first = _invoke(lam, "py", {"name": "x"}, LogType="Tail")
    assert first["StatusCode"] == 200
    assert first["ExecutedVersion"] == "$LATEST"
    assert first["Body"]["count"] == 1
    assert first["Body"]["name"] == "py"
    assert first["Body"]["arn"] == f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:py"
    assert first["Body"]["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "py",
        "GREETING": "hi",
        "_HANDLER": "app.handler",
    }
    assert 0 < first["Body"]["remaining"] <= 3000
    log = base64.b64decode(first["LogResult"]).decode()
    assert "START RequestId:" in log
    assert "hello x" in log
    assert "REPORT RequestId:" in log and "Init Duration:" in log

    second = _invoke(lam, "py", {"name": "y"}, LogType="Tail")
    assert second["Body"]["count"] == 2
    assert "Init Duration" not in base64.b64decode(second["LogResult"]).decode()


def test_an_unhandled_error_is_reported_as_a_function_error(lam):
    create_function(lam, "bad", Handler="app.fail", Code={"ZipFile": make_zip({"app.py": APP})})
    response = _invoke(lam, "bad")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "ValueError"
    assert response["Body"]["errorMessage"] == "boom"
    assert any("raise ValueError" in line for line in response["Body"]["stackTrace"])


def test_a_code_update_retires_the_old_environment(lam):
    create_function(lam, "upd", Code={"ZipFile": make_zip({"app.py": APP})})
    assert _invoke(lam, "upd")["Body"]["count"] == 1
    assert _invoke(lam, "upd")["Body"]["count"] == 2
    lam.update_function_code(FunctionName="upd", ZipFile=make_zip({"app.py": APP + "\n# v2\n"}))
    assert _invoke(lam, "upd")["Body"]["count"] == 1


def test_dry_run_checks_without_running(lam):
    create_function(lam, "dry", Code={"ZipFile": make_zip({"app.py": APP})})
    assert lam.invoke(FunctionName="dry", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="missing", InvocationType="DryRun")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_log_lines_are_stored_in_the_functions_log_group(functory, lam, credentials):
    create_function(lam, "logged", Code={"ZipFile": make_zip({"app.py": APP})})
    request_id = lam.invoke(FunctionName="logged", Payload=b'{"name": "stored"}')[
        "ResponseMetadata"
    ]["RequestId"]
    script = (
        "import time\n"
        "from monitoring.models import LogEvent\n"
        "for _ in range(50):\n"
        "    rows = list(LogEvent.objects.filter(\n"
        f"        group__account_id='{credentials.account_id}', group__name='/aws/lambda/logged'\n"
        "    ).order_by('timestamp', 'id').values_list('message', 'stream__name'))\n"
        "    if any(m.startswith('REPORT') for m, _ in rows):\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "import json; print(json.dumps(rows))\n"
    )
    result = functory.manage("shell", "-c", script)
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    messages = [message for message, _ in rows]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "hello stored" in messages
    assert messages[-2] == f"END RequestId: {request_id}"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "/[$LATEST]" in rows[0][1]
