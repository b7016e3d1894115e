"""PutEvents on the default bus: each entry becomes an event in EventBridge's envelope,
is matched against the account's enabled rules' event patterns, and goes to the targets of
every rule it matches. Entries fail one by one, with AWS's codes, never the whole call
(except a request over the size limit)."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from awsapi import strictjson
from functions import arns
from iam.models import Account
from triggers import patterns
from triggers.models import Rule
from triggers.rules import delivery, errors, metrics, selectors

# EventBridge's limit on a PutEvents request's entries (their sizes as AWS counts them).
MAX_ENTRIES_BYTES = 256 * 1024
_TIME_BYTES = 14


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it (UTF-8 bytes of its strings)."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode())
    return size


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> patterns.Pattern | None:
    try:
        return patterns.compile_pattern(text)
    except patterns.PatternError:
        return None


@dataclass(frozen=True)
class _Failure:
    code: str
    message: str


def _required(name: str) -> _Failure:
    return _Failure(
        "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument."
    )


def _time(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return now
    return now


def build_event(
    account: Account, entry: dict[str, Any], now: datetime
) -> dict[str, Any] | _Failure:
    """The event an entry makes, or why the entry fails."""
    try:
        selectors.bus_name(account, entry.get("EventBusName"))
    except errors.ResourceNotFound as error:
        return _Failure("ResourceNotFoundException", error.message)
    for name in ("Source", "DetailType", "Detail"):
        if not entry.get(name):
            return _required(name)
    if str(entry["Source"]).startswith("aws."):
        return _Failure("NotAuthorizedForSourceException", "Not authorized for the source.")
    try:
        detail = strictjson.loads(entry["Detail"], max_depth=strictjson.PAYLOAD_MAX_DEPTH)
    except strictjson.JSONError:
        return _Failure("MalformedDetail", "Detail is malformed.")
    if not isinstance(detail, dict):
        return _Failure("MalformedDetail", "Detail is malformed.")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account.id,
        "time": delivery.event_time(_time(entry.get("Time"), now)),
        "region": arns.region(),
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }


def matching_rules(rules: list[Rule], event: dict[str, Any]) -> list[Rule]:
    matched = []
    for rule in rules:
        pattern = _compiled(rule.event_pattern)
        if pattern is not None and pattern.matches(event):
            matched.append(rule)
    return matched


def pattern_test(pattern_text: str, event_text: str) -> bool:
    """TestEventPattern: whether the event matches the pattern."""
    try:
        pattern = patterns.compile_pattern(pattern_text)
    except patterns.PatternError as error:
        raise errors.InvalidEventPattern(f"Event pattern is not valid. Reason: {error}") from None
    try:
        event = strictjson.loads(event_text, max_depth=strictjson.PAYLOAD_MAX_DEPTH)
    except strictjson.JSONError:
        event = None
    if not isinstance(event, dict):
        raise errors.Validation("Parameter Event is not valid.")
    return pattern.matches(event)


def events_put(
    account: Account, entries: list[dict[str, Any]], *, now: datetime | None = None
) -> list[dict[str, str]]:
    """PutEvents; returns the result entries, in the request's order."""
    if sum(entry_size(entry) for entry in entries) > MAX_ENTRIES_BYTES:
        raise errors.Validation("Total size of the entries in the request is over the limit.")
    now = now or timezone.now()
    rules = selectors.rules_with_patterns(account)
    results: list[dict[str, str]] = []
    for entry in entries:
        event = build_event(account, entry, now)
        if isinstance(event, _Failure):
            results.append({"ErrorCode": event.code, "ErrorMessage": event.message})
            continue
        with transaction.atomic():
            matched = matching_rules(rules, event)
            for rule in matched:
                delivery.deliver(rule, event, ingestion_time=now, targets=list(rule.targets.all()))
        if matched:
            metrics.account_event_matched(account.id)
        results.append({"EventId": event["id"]})
    return results
