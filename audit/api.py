"""CloudTrail's ``LookupEvents`` (JSON 1.1, ``X-Amz-Target:
com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``, SigV4 service
``cloudtrail``): the account's event history, for its admins only.

As AWS: at most one lookup attribute, ``MaxResults`` 1 to 50 (default 50), newest first,
``CloudTrailEvent`` the event's JSON as a string, ``ReadOnly`` as ``"true"``/``"false"``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from audit import selectors
from audit.models import AuditEvent
from audit.recorder import recorder
from awsapi.apiview import ApiResponse
from awsapi.errors import AWSError, ValidationError
from awsapi.validation import validate
from iam.authentication import ApiRequest, json_rpc_api
from iam.models import TemporaryCredential

logger = logging.getLogger(__name__)

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
MAX_RESULTS = 50
_MAX_BODY = 64 * 1024


def _error(code: str, message: str) -> AWSError:
    return AWSError(message, code=code, status=400)


def _arn(req: ApiRequest) -> str:
    if isinstance(req.credential, TemporaryCredential) and req.credential.role_id is not None:
        return req.credential.arn  # a role's session (an execution role's has no user)
    assert req.user is not None
    if req.user.is_staff:
        return f"arn:aws:iam::{req.account.id}:root"
    return f"arn:aws:iam::{req.account.id}:user/{req.user.username}"


def _admin_only(req: ApiRequest, action: str) -> None:
    """The account's event history is its admins' (they act as its root user)."""
    if req.user is None or not req.user.is_staff:
        raise _error(
            "AccessDeniedException",
            f"User: {_arn(req)} is not authorized to perform: cloudtrail:{action} because "
            f"no identity-based policy allows the cloudtrail:{action} action",
        )


def _time(value: Any, member: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error("ValidationException", f"Invalid value for {member}: expected a timestamp")
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise _error("InvalidTimeRangeException", f"{member} is out of range.") from None


def _cursor(token: Any) -> selectors.Cursor | None:
    if token is None:
        return None
    cursor = selectors.Cursor.parse(token)
    if cursor is None:
        raise _error("InvalidNextTokenException", "Invalid NextToken.")
    return cursor


def _attributes(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _error("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if len(value) > 1:
        raise _error(
            "InvalidLookupAttributesException",
            "You can specify only one lookup attribute.",
        )
    attributes: dict[str, str] = {}
    for item in value:
        key = item.get("AttributeKey") if isinstance(item, dict) else None
        if key not in selectors.ATTRIBUTE_COLUMNS:
            raise _error(
                "InvalidLookupAttributesException",
                f"Invalid attribute key: {str(key)[:64]}. Valid keys: "
                + ", ".join(selectors.ATTRIBUTE_COLUMNS),
            )
        attributes[key] = str(item.get("AttributeValue", ""))
    return attributes


def event_summary(row: AuditEvent) -> dict[str, Any]:
    """An event as LookupEvents answers it."""
    event: dict[str, Any] = {
        "EventId": str(row.event_id),
        "EventName": row.event_name,
        "ReadOnly": "true" if row.read_only else "false",
        "EventTime": row.event_time.timestamp(),
        "EventSource": row.event_source,
        "Resources": (
            [{"ResourceType": row.resource_type, "ResourceName": row.resource_name}]
            if row.resource_name
            else []
        ),
        "CloudTrailEvent": row.record,
    }
    if row.access_key_id:
        event["AccessKeyId"] = row.access_key_id
    if row.username:
        event["Username"] = row.username
    return event


def lookup_events(req: ApiRequest) -> ApiResponse:
    _admin_only(req, "LookupEvents")
    params = req.json()
    limit = params.get("MaxResults", MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise _error(
            "InvalidMaxResultsException", f"MaxResults must be between 1 and {MAX_RESULTS}."
        )
    if params.get("EventCategory") is not None:
        if params["EventCategory"] != "insight":
            raise _error("InvalidEventCategoryException", "Invalid EventCategory.")
        return ApiResponse({"Events": []})  # no Insights events are made here
    attributes = _attributes(params.get("LookupAttributes"))
    start = _time(params.get("StartTime"), "StartTime")
    end = _time(params.get("EndTime"), "EndTime")
    try:
        validate("cloudtrail", "LookupEvents", params)
    except ValidationError as error:
        raise _error("ValidationException", error.message) from None
    if start is not None and end is not None and start > end:
        raise _error("InvalidTimeRangeException", "Start time must be before end time.")
    # What this process recorded and has not stored yet, so a caller reads its own calls.
    try:
        recorder.flush()
    except Exception:
        logger.exception("storing audit events before a lookup failed")
    rows, cursor = selectors.events_for_account(
        req.account.id,
        attributes=attributes,
        start=start,
        end=end,
        limit=limit,
        after=_cursor(params.get("NextToken")),
    )
    body: dict[str, Any] = {"Events": [event_summary(row) for row in rows]}
    if cursor is not None:
        body["NextToken"] = cursor.token()
    return ApiResponse(body)


dispatch = json_rpc_api(
    "cloudtrail", TARGET_PREFIX, {"LookupEvents": lookup_events}, max_body=_MAX_BODY
)
