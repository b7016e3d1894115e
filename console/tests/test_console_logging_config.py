"""The console and LoggingConfig: the configuration tab shows and saves the logging
controls, and the Monitor tab's invocations are read from JSON platform records."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from functions.models import FunctionVersion
from functions.tests.factories import function_row
from iam import services
from monitoring import services as logs
from monitoring.invocation_logs import report_parse
from monitoring.models import LogGroup

pytestmark = pytest.mark.django_db

A = "11111111-2222-3333-4444-555555555555"
B = "66666666-7777-8888-9999-000000000000"


def _client(account_id: str = "111111111111") -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(username="owner", account=account, password="pw-1234567890", is_admin=True)
    client = Client()
    assert client.login(username="owner", password="pw-1234567890")
    return client


def _record(kind: str, record: dict[str, object]) -> str:
    return json.dumps(
        {"time": "2024-01-01T00:00:00.000Z", "type": kind, "record": record},
        separators=(",", ":"),
    )


def _report(request_id: str, status: str, duration: float) -> str:
    metrics = {"durationMs": duration, "billedDurationMs": 4, "memorySizeMB": 128}
    return _record(
        "platform.report",
        {"requestId": request_id, "metrics": metrics | {"maxMemoryUsedMB": 30}, "status": status},
    )


def _put(account, group: str, stream: str, lines: list[str]) -> None:
    if not LogGroup.objects.filter(account=account, name=group).exists():
        logs.log_group_create(account, group)
    logs.log_stream_create(account, group, stream)
    now = int(time.time() * 1000)
    logs.log_events_put(account, group, stream, [(now + i, line) for i, line in enumerate(lines)])


def test_a_platform_report_record_is_parsed_like_a_report_line():
    report = report_parse(_report(A, "success", 3.25))
    assert report is not None
    assert (report.request_id, report.duration_ms, report.billed_ms) == (A, 3.25, 4.0)
    assert (report.memory_mb, report.max_memory_mb, report.init_duration_ms) == (128, 30, None)
    assert report_parse(_record("platform.start", {"requestId": A, "version": "1"})) is None
    assert report_parse('{"time": "x", "type": "platform.report", "record": 5}') is None


def test_recent_invocations_and_their_lines_come_from_json_records():
    client = _client()
    account = services.account_get_or_create("111111111111")
    function_row(account, "mine")
    app = json.dumps({"timestamp": "t", "level": "INFO", "requestId": A, "message": "hi"})
    _put(
        account,
        "/aws/lambda/mine",
        "2024/01/01/[$LATEST]abc",
        [
            _record("platform.initStart", {"phase": "init"}),
            _record("platform.start", {"requestId": A, "version": "$LATEST"}),
            app,
            _report(A, "success", 1.0),
            _record("platform.start", {"requestId": B, "version": "$LATEST"}),
            _report(B, "timeout", 3.0),
        ],
    )
    recent = client.get("/functions/mine/monitor/invocations").json()["invocations"]
    assert [(i["request_id"], i["status"], i["duration_ms"]) for i in recent] == [
        (B, "failed", 3.0),
        (A, "succeeded", 1.0),
    ]
    lines = client.get(f"/functions/mine/monitor/invocations/{A}").json()["lines"]
    assert [line["message"] for line in lines] == [
        _record("platform.start", {"requestId": A, "version": "$LATEST"}),
        app,
        _report(A, "success", 1.0),
    ]


def test_a_shared_custom_group_lists_only_this_functions_invocations():
    client = _client()
    account = services.account_get_or_create("111111111111")
    function_row(account, "mine")
    function_row(account, "other")
    for name in ("mine", "other"):
        version = FunctionVersion.objects.get(function__name=name, number=0)
        version.logging_config = {"LogFormat": "JSON", "LogGroup": "shared"}
        version.save()
    _put(account, "shared", "2024/01/01/mine[$LATEST][abc]", [_report(A, "success", 1.0)])
    _put(account, "shared", "2024/01/01/other[$LATEST][def]", [_report(B, "success", 2.0)])
    recent = client.get("/functions/mine/monitor/invocations").json()["invocations"]
    assert [i["request_id"] for i in recent] == [A]


def test_the_configuration_tab_shows_the_logging_controls():
    client = _client()
    function_row(services.account_get_or_create("111111111111"), "mine")
    page = client.get("/functions/mine/").content.decode()
    assert 'id="cfg-logging"' in page
    assert "<dd data-logging-format>Text</dd>" in page
    assert "<code data-logging-group>/aws/lambda/mine</code>" in page

    saved = client.post(
        "/functions/mine/configuration/logging",
        {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "WARN",
        "LogGroup": "/aws/lambda/mine",
    }
    page = client.get("/functions/mine/").content.decode()
    assert "<dd data-logging-format>JSON</dd>" in page
    assert '<option value="DEBUG" selected>DEBUG</option>' in page


def test_the_logging_form_refuses_what_the_api_refuses_next_to_the_field():
    client = _client()
    function_row(services.account_get_or_create("111111111111"), "mine")
    refused = client.post(
        "/functions/mine/configuration/logging",
        {"LogFormat": "Text", "LogGroup": "bad group!"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "ValidationException"
    assert error["field"] == "loggingConfig.logGroup"
    version = FunctionVersion.objects.get(function__name="mine", number=0)
    assert version.logging_config == {}
