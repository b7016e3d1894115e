"""LoggingConfig at run time: the runtimes' JSON records, level filtering by the runtimes and
the platform, the platform's own records, Text mode as before, and custom log groups."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from conftest import client_for, create_function, create_user, make_zip
from invocations.executor import logcaps

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

PY_APP = """
import logging

root = logging.getLogger()
orders = logging.getLogger("orders")


def handler(event, context):
    print("plain print")
    root.debug("debug line")
    root.info("info line")
    root.warning("warn line")
    orders.info("order %s", 7, extra={"orderId": 7})
    try:
        1 / 0
    except ZeroDivisionError:
        root.exception("it failed")
    return "ok"


def fail(event, context):
    raise ValueError("boom")
"""

NODE_APP = """
exports.handler = async () => {
  console.log("log line");
  console.info("info %s", "line");
  console.debug("debug line");
  console.trace("trace line");
  console.warn("warn line");
  console.error("error line", new Error("bad"));
  console.log({ nested: { n: 1 } });
  return "ok";
};
"""

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _tail(lam: Any, name: str) -> tuple[str, list[str]]:
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    return request_id, lines


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def _app(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if "type" not in record]


def _python(lam: Any, name: str, config: dict[str, str], handler: str = "app.handler") -> None:
    create_function(
        lam,
        name,
        Handler=handler,
        Code={"ZipFile": make_zip({"app.py": PY_APP})},
        LoggingConfig=config,
    )


def test_python_logging_records_are_awss_json_at_info(lam):
    _python(lam, "pyjson", {"LogFormat": "JSON"})
    request_id, lines = _tail(lam, "pyjson")
    records = _app(_records(lines))
    assert [record["message"] for record in records] == [
        "info line",
        "warn line",
        "order 7",
        "it failed",
    ]
    info, warn, order, failed = records
    assert list(info) == ["timestamp", "level", "message", "logger", "requestId"]
    assert ISO_MS.match(info["timestamp"])
    assert (info["level"], info["logger"], info["requestId"]) == ("INFO", "root", request_id)
    assert warn["level"] == "WARNING"
    assert order["logger"] == "orders" and order["orderId"] == 7
    assert failed["level"] == "ERROR"
    assert failed["errorType"] == "ZeroDivisionError"
    assert failed["errorMessage"] == "division by zero"
    assert any("1 / 0" in frame for frame in failed["stackTrace"])
    assert failed["location"] == "/var/task/app.py:handler:17"
    # print() is not a logging call: it stays a plain line, as on AWS.
    assert "plain print" in lines


def test_python_application_level_warn_drops_info_records_and_prints(lam):
    _python(lam, "pywarn", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})
    _, lines = _tail(lam, "pywarn")
    records = _app(_records(lines))
    assert [(r["level"], r["message"]) for r in records] == [
        ("WARNING", "warn line"),
        ("ERROR", "it failed"),
    ]
    assert "plain print" not in lines  # plain output counts as INFO


def test_python_application_level_debug_keeps_debug_records(lam):
    _python(lam, "pydebug", {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    _, lines = _tail(lam, "pydebug")
    messages = [record["message"] for record in _app(_records(lines))]
    assert messages[0] == "debug line"
    assert "info line" in messages
    assert "plain print" in lines


def test_python_unhandled_error_is_one_json_error_record(lam):
    _python(lam, "pyfail", {"LogFormat": "JSON"}, handler="app.fail")
    request_id, lines = _tail(lam, "pyfail")
    (error,) = [r for r in _app(_records(lines)) if r.get("errorType") == "ValueError"]
    assert error["level"] == "ERROR"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == request_id
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", error["timestamp"])
    assert any("raise ValueError" in frame for frame in error["stackTrace"])
    (report,) = [r for r in _records(lines) if r.get("type") == "platform.report"]
    assert report["record"]["status"] == "error"
    assert report["record"]["errorType"] == "ValueError"


def test_platform_records_replace_start_end_and_report(lam):
    _python(lam, "platjson", {"LogFormat": "JSON"})
    request_id, lines = _tail(lam, "platjson")
    assert not any(re.match(r"^(START|END|REPORT) RequestId", line) for line in lines)
    platform = [r for r in _records(lines) if "type" in r]
    assert [r["type"] for r in platform] == [
        "platform.initStart",
        "platform.start",
        "platform.report",
    ]
    init, start, report = platform
    assert init["record"] == {
        "initializationType": "on-demand",
        "phase": "init",
        "functionName": "platjson",
        "functionVersion": "$LATEST",
    }
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert all(ISO_MS.match(r["time"]) for r in platform)
    assert report["record"]["requestId"] == request_id
    assert report["record"]["status"] == "success"
    metrics = report["record"]["metrics"]
    assert set(metrics) == {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }
    assert metrics["memorySizeMB"] == 128
    assert metrics["billedDurationMs"] >= metrics["durationMs"] > 0
    # A warm invocation has no init record and no init duration.
    _, warm = _tail(lam, "platjson")
    warm_platform = [r for r in _records(warm) if "type" in r]
    assert [r["type"] for r in warm_platform] == ["platform.start", "platform.report"]
    assert "initDurationMs" not in warm_platform[-1]["record"]["metrics"]


def test_system_level_debug_adds_runtime_done_and_warn_drops_them_all(lam):
    _python(lam, "sysdebug", {"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})
    request_id, lines = _tail(lam, "sysdebug")
    kinds = [r["type"] for r in _records(lines) if "type" in r]
    assert kinds == [
        "platform.initStart",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    done = next(r for r in _records(lines) if r.get("type") == "platform.runtimeDone")
    assert done["record"]["requestId"] == request_id and done["record"]["status"] == "success"

    _python(lam, "syswarn", {"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    _, quiet = _tail(lam, "syswarn")
    assert [r for r in _records(quiet) if "type" in r] == []
    assert "info line" in [r["message"] for r in _app(_records(quiet))]


def test_text_format_is_unchanged(lam):
    _python(lam, "pytext", {"LogFormat": "Text"})
    request_id, lines = _tail(lam, "pytext")
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "plain print" in lines
    # Python's root logger stays at WARNING, as on AWS's Text format.
    assert not any("info line" in line for line in lines)
    assert any(re.match(rf"^\[WARNING\]\t\S+Z\t{request_id}\twarn line$", line) for line in lines)
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert not any(line.startswith("{") for line in lines)


def _node(lam: Any, name: str, config: dict[str, str]) -> None:
    create_function(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.js": NODE_APP})},
        LoggingConfig=config,
    )


def test_nodejs_console_calls_are_json_records_at_info(lam):
    _node(lam, "nodejson", {"LogFormat": "JSON"})
    request_id, lines = _tail(lam, "nodejson")
    records = _app(_records(lines))
    assert [(r["level"], r["message"]) for r in records[:4]] == [
        ("INFO", "log line"),
        ("INFO", "info line"),
        ("WARN", "warn line"),
        ("ERROR", records[3]["message"]),
    ]
    first = records[0]
    assert list(first) == ["timestamp", "level", "requestId", "message"]
    assert ISO_MS.match(first["timestamp"]) and first["requestId"] == request_id
    error = records[3]
    assert error["message"].startswith("error line Error: bad")
    assert error["errorType"] == "Error" and error["errorMessage"] == "bad"
    assert error["stackTrace"][0] == "Error: bad"
    # One object argument is the message itself, not its printed form.
    assert records[4]["message"] == {"nested": {"n": 1}}
    assert len(records) == 5  # debug and trace are below INFO


def test_nodejs_level_debug_keeps_debug_but_not_trace(lam):
    _node(lam, "nodedebug", {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    _, lines = _tail(lam, "nodedebug")
    messages = [r["message"] for r in _app(_records(lines))]
    assert "debug line" in messages and "trace line" not in messages


def test_nodejs_level_warn_keeps_warnings_and_errors_only(lam):
    _node(lam, "nodewarn", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})
    _, lines = _tail(lam, "nodewarn")
    assert [r["level"] for r in _app(_records(lines))] == ["WARN", "ERROR"]


def test_nodejs_text_format_is_unchanged(lam):
    _node(lam, "nodetext", {"LogFormat": "Text"})
    request_id, lines = _tail(lam, "nodetext")
    assert re.match(rf"^\S+Z\t{request_id}\tINFO\tlog line$", lines[1])
    assert any(line.endswith("\tDEBUG\tdebug line") for line in lines)
    assert not any(line.startswith("{") for line in lines)


def _events(logs: Any, group: str, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if any(request_id in e["message"] and "platform.report" in e["message"] for e in events):
            return list(events)
        time.sleep(0.2)
    raise AssertionError(f"the report of {request_id} never reached {group}")


def test_a_custom_log_group_is_created_and_receives_the_logs(functory, credentials, lam):
    logs = client_for(functory, credentials, "logs")
    _python(lam, "grouped", {"LogFormat": "JSON", "LogGroup": "/shared/app"})
    assert (
        lam.get_function(FunctionName="grouped")["Configuration"]["LoggingConfig"]["LogGroup"]
        == "/shared/app"
    )
    request_id, _ = _tail(lam, "grouped")
    events = _events(logs, "/shared/app", request_id)
    messages = [e["message"] for e in events]
    assert any('"message": "info line"' in m for m in messages)
    # Streams of a custom group name the function: several may share the group.
    (stream,) = {e["logStreamName"] for e in events}
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/grouped\[\$LATEST\]\[[0-9a-f]{32}\]", stream)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/aws/lambda/grouped" not in groups

    # Moving the function to another group moves its next logs there.
    lam.update_function_configuration(FunctionName="grouped", LoggingConfig={"LogGroup": "other"})
    moved_id, _ = _tail(lam, "grouped")
    assert any(moved_id in e["message"] for e in _events(logs, "other", moved_id))


def test_a_group_named_aws_slash_gets_no_logs_as_on_aws(functory, credentials, lam):
    logs = client_for(functory, credentials, "logs")
    _python(lam, "reserved", {"LogFormat": "JSON", "LogGroup": "aws/reserved"})
    _, lines = _tail(lam, "reserved")
    assert any('"message": "info line"' in line for line in lines)  # the caller's tail has it
    # Lines are stored in the order they are handed over: once a later function's report is
    # stored, the first one's lines would have been too.
    _python(lam, "after", {"LogFormat": "JSON"})
    after_id, _ = _tail(lam, "after")
    _events(logs, "/aws/lambda/after", after_id)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "aws/reserved" not in groups and "/aws/lambda/reserved" not in groups


@pytest.mark.docker
def test_json_records_come_the_same_from_the_docker_backend(functory_docker):
    dlam = client_for(functory_docker, create_user(functory_docker))
    _python(dlam, "dockjson", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})
    request_id, lines = _tail(dlam, "dockjson")
    records = _records(lines)
    assert [(r["level"], r["message"]) for r in _app(records)] == [
        ("WARNING", "warn line"),
        ("ERROR", "it failed"),
    ]
    assert _app(records)[0]["requestId"] == request_id
    kinds = [r["type"] for r in records if "type" in r]
    assert kinds == ["platform.initStart", "platform.start", "platform.report"]


def test_output_filtered_away_still_counts_toward_the_output_caps(lam):
    # A function cannot make the platform parse unbounded output by logging below its
    # level: what is filtered away counts toward the invocation's caps like the rest.
    flood = (
        "import sys\n"
        "def handler(event, context):\n"
        '    line = \'{"level": "INFO", "n": 1}\\n\'\n'
        f"    sys.stdout.write(line * ({logcaps.INVOCATION_MAX_LINES} + 10))\n"
        '    print(\'{"level": "ERROR", "msg": "after the flood"}\')\n'
        "    return 'ok'\n"
    )
    create_function(
        lam,
        "filtered",
        Timeout=60,
        Code={"ZipFile": make_zip({"app.py": flood})},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    _, lines = _tail(lam, "filtered")
    assert logcaps.TRUNCATION_NOTICE in lines
    assert not any('"level": "INFO"' in line for line in lines)
    assert not any("after the flood" in line for line in lines)


def test_an_init_error_is_a_json_error_record(lam):
    _python(lam, "badinit", {"LogFormat": "JSON"}, handler="missing.handler")
    response = lam.invoke(FunctionName="badinit", Payload=b"{}", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    (error,) = [r for r in _app(_records(lines)) if "errorType" in r]
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["level"] == "ERROR" and error["requestId"] == ""
    assert error["errorMessage"].startswith("Unable to import module 'missing'")


def test_a_nodejs_handler_error_is_logged_as_an_error_record(lam):
    create_function(
        lam,
        "nodefail",
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={
            "ZipFile": make_zip(
                {"index.js": "exports.handler = async () => { throw new TypeError('nope'); };"}
            )
        },
        LoggingConfig={"LogFormat": "JSON"},
    )
    request_id, lines = _tail(lam, "nodefail")
    (error,) = [r for r in _app(_records(lines)) if r["level"] == "ERROR"]
    assert error["requestId"] == request_id
    assert error["message"]["errorType"] == "TypeError"
    assert error["message"]["errorMessage"] == "nope"
    assert error["message"]["stackTrace"][0] == "TypeError: nope"
    (report,) = [r for r in _records(lines) if r.get("type") == "platform.report"]
    assert (report["record"]["status"], report["record"]["errorType"]) == ("error", "TypeError")
