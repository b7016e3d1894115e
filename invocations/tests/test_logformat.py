"""The platform's lines in each log format, and the application level filter (in process)."""

from __future__ import annotations

import json

import pytest

from invocations.executor import logformat
from invocations.executor.spec import EnvironmentSpec

RID = "11111111-2222-3333-4444-555555555555"


def _spec(
    log_format: str = "Text", application_log_level: str = "", system_log_level: str = ""
) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        function_name="f",
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=256,
        timeout_s=3,
        code_dir="/nonexistent",
        layers_dir=None,
        log_group="/aws/lambda/f",
        log_format=log_format,
        application_log_level=application_log_level,
        system_log_level=system_log_level,
    )


JSON_INFO = {"log_format": "JSON", "application_log_level": "INFO", "system_log_level": "INFO"}


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("plain text", "INFO"),
        ('{"level": "debug", "msg": "x"}', "DEBUG"),
        ('{"level": "WARNING"}', "WARN"),
        ('{"level": "CRITICAL"}', "FATAL"),
        ('{"level": "verbose"}', "INFO"),
        ('{"level": 3}', "INFO"),
        ('{"level": "ERROR"', "INFO"),
        ('["level", "ERROR"]', "INFO"),
    ],
)
def test_a_lines_level_is_its_level_key_else_info(line, level):
    assert logformat.level_of(line) == level


def test_the_application_level_drops_more_detailed_lines_only_with_json():
    lines = ["plain", '{"level": "DEBUG"}', '{"level": "ERROR"}', '{"level": "WARN"}']
    warn = _spec(log_format="JSON", application_log_level="WARN")
    assert logformat.application_filter(warn, lines) == lines[2:]
    trace = _spec(log_format="JSON", application_log_level="TRACE")
    assert logformat.application_filter(trace, lines) == lines
    assert logformat.application_filter(_spec(), lines) == lines  # Text: nothing filtered


def test_text_format_writes_start_end_and_report_lines():
    spec = _spec()
    assert logformat.start(spec, RID, 0) == [f"START RequestId: {RID} Version: $LATEST"]
    assert logformat.init_start(spec, 0) == []
    lines = logformat.finish(
        spec,
        RID,
        at_ms=0,
        duration_ms=1.234,
        billed_ms=2,
        max_memory_mb=30,
        init_duration_ms=100.5,
        error_type=None,
        closing=["notice"],
    )
    assert lines == [
        "notice",
        f"END RequestId: {RID}",
        f"REPORT RequestId: {RID}\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 256 MB\tMax Memory Used: 30 MB\tInit Duration: 100.50 ms\t",
    ]


def test_json_format_writes_platform_records():
    spec = _spec(**JSON_INFO)
    (start,) = logformat.start(spec, RID, 1_700_000_000_123)
    assert json.loads(start) == {
        "time": "2023-11-14T22:13:20.123Z",
        "type": "platform.start",
        "record": {"requestId": RID, "version": "$LATEST"},
    }
    (report,) = logformat.finish(
        spec,
        RID,
        at_ms=0,
        duration_ms=1.234,
        billed_ms=2,
        max_memory_mb=30,
        init_duration_ms=None,
        error_type="Sandbox.Timedout",
    )
    assert json.loads(report)["record"] == {
        "requestId": RID,
        "metrics": {
            "durationMs": 1.23,
            "billedDurationMs": 2,
            "memorySizeMB": 256,
            "maxMemoryUsedMB": 30,
        },
        "status": "timeout",
        "errorType": "Sandbox.Timedout",
    }


@pytest.mark.parametrize(
    ("system_level", "kinds"),
    [
        ("DEBUG", ["platform.runtimeDone", "platform.report"]),
        ("INFO", ["platform.report"]),
        ("WARN", []),
    ],
)
def test_the_system_level_filters_platform_records(system_level, kinds):
    spec = _spec(log_format="JSON", application_log_level="INFO", system_log_level=system_level)
    lines = logformat.finish(
        spec,
        RID,
        at_ms=0,
        duration_ms=1.0,
        billed_ms=1,
        max_memory_mb=1,
        init_duration_ms=None,
        error_type=None,
    )
    assert [json.loads(line)["type"] for line in lines] == kinds


def test_a_deeply_nested_line_is_an_info_line_not_a_crash():
    # json.loads raises RecursionError (not ValueError) past Python's recursion limit.
    line = '{"level": "ERROR", "a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert logformat.level_of(line) == "INFO"


def test_a_deeply_nested_line_is_not_a_platform_record():
    from monitoring.invocation_logs import mark

    line = '{"time": "x", "type": "platform.start", "record": ' + "[" * 100_000 + "]" * 100_000
    assert mark(line + "}") is None
