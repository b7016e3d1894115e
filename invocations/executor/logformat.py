"""The platform's log lines in the function's format (LoggingConfig), and level filtering.

With the Text format the platform writes ``START``/``END``/``REPORT`` lines and passes the
function's output through unchanged. With JSON it writes Telemetry-API-shaped records
(``{"time", "type": "platform.start", "record": {...}}``) filtered by the system log level,
and drops function output more detailed than the application log level: a line that is a
JSON object with a ``level`` key has that level, any other line is INFO, as AWS documents.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping

from invocations.executor.spec import EnvironmentSpec

# Most detailed first. Python's logging names (WARNING, CRITICAL) are read as AWS's.
_RANK = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
# Each platform record's level, for the system log level filter.
_RECORD_LEVEL = {
    "platform.initStart": "INFO",
    "platform.start": "INFO",
    "platform.runtimeDone": "DEBUG",
    "platform.report": "INFO",
}


def iso_time(epoch_ms: int) -> str:
    """``2023-11-01T12:00:00.123Z``: the records' ``time``."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def level_of(line: str) -> str:
    """The level AWS gives a line of function output (INFO unless it says otherwise)."""
    if not line.startswith("{") or '"level"' not in line:
        return "INFO"
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):  # a tenant's line: any nesting
        return "INFO"
    level = document.get("level") if isinstance(document, dict) else None
    if not isinstance(level, str):
        return "INFO"
    name = _ALIASES.get(level.upper(), level.upper())
    return name if name in _RANK else "INFO"


def _kept(level: str, threshold: str) -> bool:
    return _RANK[level] >= _RANK.get(threshold, _RANK["INFO"])


def application_filter(spec: EnvironmentSpec, lines: list[str]) -> list[str]:
    """The function's output lines that its application log level lets through."""
    if not spec.json_logs:
        return lines
    threshold = spec.application_log_level or "INFO"
    if threshold == "TRACE":
        return lines
    return [line for line in lines if _kept(level_of(line), threshold)]


def _record(
    spec: EnvironmentSpec, kind: str, record: Mapping[str, object], at_ms: int
) -> list[str]:
    if not _kept(_RECORD_LEVEL[kind], spec.system_log_level or "INFO"):
        return []
    document = {"time": iso_time(at_ms), "type": kind, "record": record}
    return [json.dumps(document, separators=(",", ":"))]


def init_start(spec: EnvironmentSpec, at_ms: int) -> list[str]:
    """``platform.initStart``: JSON only (the Text format has no line for it)."""
    if not spec.json_logs:
        return []
    record: dict[str, object] = {
        "initializationType": "on-demand",
        "phase": "init",
        "functionName": spec.function_name,
        "functionVersion": spec.version,
    }
    return _record(spec, "platform.initStart", record, at_ms)


def start(spec: EnvironmentSpec, request_id: str, at_ms: int) -> list[str]:
    if not spec.json_logs:
        return [f"START RequestId: {request_id} Version: {spec.version}"]
    record = {"requestId": request_id, "version": spec.version}
    return _record(spec, "platform.start", record, at_ms)


def _status(error_type: str | None) -> str:
    if error_type is None:
        return "success"
    if error_type == "Sandbox.Timedout":
        return "timeout"
    if error_type in {"Runtime.ExitError", "Runtime.OutOfMemory"}:
        return "failure"
    return "error"


def finish(
    spec: EnvironmentSpec,
    request_id: str,
    *,
    at_ms: int,
    duration_ms: float,
    billed_ms: int,
    max_memory_mb: int,
    init_duration_ms: float | None,
    error_type: str | None,
    closing: Iterable[str] = (),
    restore_duration_ms: float | None = None,
) -> list[str]:
    """The lines that close an invocation: END and REPORT, or runtimeDone and report."""
    if not spec.json_logs:
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed_ms} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {max_memory_mb} MB\t"
        )
        if init_duration_ms is not None:
            report += f"Init Duration: {init_duration_ms:.2f} ms\t"
        if restore_duration_ms is not None:  # SnapStart's first invocation, as on AWS
            report += (
                f"Restore Duration: {restore_duration_ms:.2f} ms\t"
                f"Billed Restore Duration: {math.ceil(restore_duration_ms)} ms\t"
            )
        return [*closing, f"END RequestId: {request_id}", report]
    status = _status(error_type)
    done: dict[str, object] = {
        "requestId": request_id,
        "status": status,
        "metrics": {"durationMs": round(duration_ms, 3)},
    }
    metrics: dict[str, object] = {
        "durationMs": round(duration_ms, 2),
        "billedDurationMs": billed_ms,
        "memorySizeMB": spec.memory_mb,
        "maxMemoryUsedMB": max_memory_mb,
    }
    if init_duration_ms is not None:
        metrics["initDurationMs"] = round(init_duration_ms, 2)
    if restore_duration_ms is not None:
        metrics["restoreDurationMs"] = round(restore_duration_ms, 2)
        metrics["billedRestoreDurationMs"] = math.ceil(restore_duration_ms)
    report_record: dict[str, object] = {"requestId": request_id, "metrics": metrics}
    report_record["status"] = status
    if error_type is not None:
        done["errorType"] = error_type
        report_record["errorType"] = error_type
    return [
        *closing,
        *_record(spec, "platform.runtimeDone", done, at_ms),
        *_record(spec, "platform.report", report_record, at_ms),
    ]
