"""Reads of a function's recent invocations, reconstructed from its log group.

Every invocation's log ends with ``END RequestId: …`` and a ``REPORT`` line (with the JSON
log format: a ``platform.report`` record); an environment runs one invocation at a time,
so a stream's lines between ``START`` and ``REPORT`` are that invocation's. Reads go
through the one permission-checked group fetch.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from awsapi.errors import AWSError
from iam.models import Account
from monitoring import selectors

SCAN_EVENTS = 5000
_REQUEST = re.compile(r"^(START|END|REPORT) RequestId: ([0-9a-fA-F-]{8,64})")
_REPORT_FIELDS = {
    "Duration": "duration_ms",
    "Billed Duration": "billed_ms",
    "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb",
    "Init Duration": "init_duration_ms",
}
# Lines that mean the invocation failed: the runtimes' error lines and the platform's own.
_FAILED = re.compile(r"\[ERROR\]|Task timed out after|\"errorType\"|Runtime\.\w+")
# The JSON format's platform records standing for START and REPORT.
_RECORD_KINDS = {"platform.start": "START", "platform.report": "REPORT"}
_RECORD_METRICS = {
    "durationMs": "duration_ms",
    "billedDurationMs": "billed_ms",
    "memorySizeMB": "memory_mb",
    "maxMemoryUsedMB": "max_memory_mb",
    "initDurationMs": "init_duration_ms",
}


@dataclass
class Report:
    request_id: str
    duration_ms: float | None = None
    billed_ms: float | None = None
    memory_mb: float | None = None
    max_memory_mb: float | None = None
    init_duration_ms: float | None = None


@dataclass
class Invocation:
    request_id: str
    timestamp: int
    stream: str
    duration_ms: float | None
    status: str  # "succeeded" | "failed"
    report: dict[str, Any] = field(default_factory=dict)


def _platform_record(line: str) -> dict[str, Any] | None:
    """A JSON-format platform record (``{"time", "type": "platform.…", "record"}``)."""
    if not line.startswith('{"time"') or '"platform.' not in line:
        return None
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):  # a tenant's line: any nesting
        return None
    if not isinstance(document, dict) or not isinstance(document.get("record"), dict):
        return None
    return document


def mark(line: str) -> tuple[str, str] | None:
    """``(START|END|REPORT, request id)`` for the platform's lines of either format."""
    match = _REQUEST.match(line)
    if match is not None:
        return match.group(1), match.group(2)
    document = _platform_record(line)
    if document is None:
        return None
    kind = _RECORD_KINDS.get(str(document.get("type")))
    request_id = document["record"].get("requestId")
    if kind is None or not isinstance(request_id, str):
        return None
    return kind, request_id


def report_failed(line: str) -> bool:
    """Whether a ``platform.report`` record says the invocation did not succeed."""
    document = _platform_record(line)
    return document is not None and document["record"].get("status", "success") != "success"


def report_parse(line: str) -> Report | None:
    """The fields of a ``REPORT RequestId: …`` line or a ``platform.report`` record (None
    for any other line)."""
    line = line.strip()
    document = _platform_record(line)
    if document is not None:
        if document.get("type") != "platform.report":
            return None
        record = document["record"]
        parsed = Report(request_id=str(record.get("requestId", "")))
        metrics = record.get("metrics")
        for key, field_name in _RECORD_METRICS.items():
            figure = metrics.get(key) if isinstance(metrics, dict) else None
            if isinstance(figure, int | float) and not isinstance(figure, bool):
                setattr(parsed, field_name, float(figure))
        return parsed
    match = _REQUEST.match(line)
    if match is None or match.group(1) != "REPORT":
        return None
    report = Report(request_id=match.group(2))
    for part in line.split("\t")[1:]:
        name, _, value = part.partition(":")
        attribute = _REPORT_FIELDS.get(name.strip())
        number = value.strip().split(" ")[0]
        if attribute and number:
            try:
                setattr(report, attribute, float(number))
            except ValueError:
                continue
    return report


def _group(account: Account, log_group: str) -> Any | None:
    try:
        return selectors.log_group_get_for_account(account, log_group)
    except AWSError:
        return None  # nothing logged yet


def recent_invocations(
    account: Account, log_group: str, limit: int = 50, function_name: str | None = None
) -> list[dict[str, Any]]:
    """The newest invocations found in the group's last events, newest first; with
    ``function_name``, only that function's (a custom group's streams name their function)."""
    group = _group(account, log_group)
    if group is None:
        return []
    events, _ = selectors.log_events_filter(
        group,
        stream_names=None,
        stream_prefix=None,
        start=None,
        end=None,
        pattern=None,
        limit=SCAN_EVENTS,
        token=None,
        start_from_head=False,
    )
    failed: dict[tuple[str, str], bool] = {}
    current: dict[str, str] = {}
    found: list[Invocation] = []
    own = f"/{function_name}[" if function_name else None
    for event in reversed(events):  # oldest first
        stream = event.stream_name
        if own is not None and own not in stream:
            continue
        found_mark = mark(event.message)
        if found_mark and found_mark[0] == "START":
            current[stream] = found_mark[1]
            failed[(stream, found_mark[1])] = False
            continue
        report = report_parse(event.message)
        if report is not None:
            key = (stream, report.request_id)
            unsuccessful = failed.get(key) or report_failed(event.message)
            found.append(
                Invocation(
                    request_id=report.request_id,
                    timestamp=event.timestamp,
                    stream=stream,
                    duration_ms=report.duration_ms,
                    status="failed" if unsuccessful else "succeeded",
                    report=asdict(report),
                )
            )
            current.pop(stream, None)
        elif stream in current and _FAILED.search(event.message):
            failed[(stream, current[stream])] = True
    return [asdict(item) for item in reversed(found[-limit:])]


def invocation_lines(account: Account, log_group: str, request_id: str) -> list[dict[str, Any]]:
    """The log lines of one invocation, from its ``START`` to its ``REPORT`` line."""
    group = _group(account, log_group)
    if group is None or not re.fullmatch(r"[0-9a-fA-F-]{8,64}", request_id):
        return []
    # Its first line naming it (START, or a JSON record: they all carry the request id).
    first, _ = selectors.log_events_filter(
        group,
        stream_names=None,
        stream_prefix=None,
        start=None,
        end=None,
        pattern=f'"{request_id}"',
        limit=1,
        token=None,
        start_from_head=True,
    )
    if not first:
        return []
    events, _ = selectors.log_events_filter(
        group,
        stream_names=[first[0].stream_name],
        stream_prefix=None,
        start=first[0].timestamp,
        end=None,
        pattern=None,
        limit=selectors.MAX_EVENTS,
        token=None,
        start_from_head=True,
    )
    lines: list[dict[str, Any]] = []
    inside = False
    for event in events:
        found = mark(event.message)
        ours = found is not None and found[1] == request_id
        if found is not None and not ours and inside and found[0] == "START":
            break  # the next invocation of this environment
        # With the system log level at WARN there is no START: its first line opens it.
        if ours or (not inside and event.id == first[0].id):
            inside = True
        if inside:
            lines.append({"id": event.id, "timestamp": event.timestamp, "message": event.message})
        if ours and found is not None and found[0] == "REPORT":
            break
    return lines
