"""Reads of a function's recent invocations, reconstructed from its log group.

Every invocation's log ends with ``END RequestId: …`` and a ``REPORT`` line; an
environment runs one invocation at a time, so a stream's lines between ``START`` and
``REPORT`` are that invocation's. Reads go through the one permission-checked group fetch.
"""

from __future__ import annotations

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


def report_parse(line: str) -> Report | None:
    """The fields of a ``REPORT RequestId: …`` line (None for any other line)."""
    line = line.strip()
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


def recent_invocations(account: Account, log_group: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest invocations found in the group's last events, newest first."""
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
    for event in reversed(events):  # oldest first
        stream = event.stream_name
        match = _REQUEST.match(event.message)
        if match and match.group(1) == "START":
            current[stream] = match.group(2)
            failed[(stream, match.group(2))] = False
            continue
        report = report_parse(event.message)
        if report is not None:
            key = (stream, report.request_id)
            found.append(
                Invocation(
                    request_id=report.request_id,
                    timestamp=event.timestamp,
                    stream=stream,
                    duration_ms=report.duration_ms,
                    status="failed" if failed.get(key) else "succeeded",
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
    marks, _ = selectors.log_events_filter(
        group,
        stream_names=None,
        stream_prefix=None,
        start=None,
        end=None,
        pattern=f'"RequestId: {request_id}"',
        limit=10,
        token=None,
        start_from_head=True,
    )
    if not marks:
        return []
    stream = marks[0].stream_name
    start, end = marks[0].timestamp, marks[-1].timestamp
    events, _ = selectors.log_events_filter(
        group,
        stream_names=[stream],
        stream_prefix=None,
        start=start,
        end=end,
        pattern=None,
        limit=selectors.MAX_EVENTS,
        token=None,
        start_from_head=True,
    )
    lines: list[dict[str, Any]] = []
    inside = False
    for event in events:
        match = _REQUEST.match(event.message)
        if match and match.group(2) == request_id and match.group(1) == "START":
            inside = True
        if inside or (match and match.group(2) == request_id):
            lines.append({"id": event.id, "timestamp": event.timestamp, "message": event.message})
        if match and match.group(2) == request_id and match.group(1) == "REPORT":
            break
    return lines
