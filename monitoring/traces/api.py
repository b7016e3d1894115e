"""The X-Ray API subset the CLI and SDKs use: GetTraceSummaries, BatchGetTraces,
PutTraceSegments (REST-JSON, SigV4 for ``xray``; IAM actions ``xray:<Operation>``)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from awsapi import strictjson
from awsapi.apiview import ApiResponse
from awsapi.errors import AWSError
from awsapi.validation import validate
from iam.authentication import ApiRequest, xray_api
from monitoring.traces import selectors, services

MAX_TRACE_IDS = 5  # BatchGetTraces' limit per call
MAX_DOCUMENTS = 50  # per PutTraceSegments call
MAX_RANGE_SECONDS = 24 * 3600  # GetTraceSummaries' longest time range


def invalid(message: str) -> AWSError:
    return AWSError(message, code="InvalidRequestException", status=400)


@xray_api("GetTraceSummaries")
def get_trace_summaries(req: ApiRequest) -> ApiResponse:
    params = strictjson.nul_replaced(req.json())
    validate("xray", "GetTraceSummaries", params)
    start, end = _seconds(params["StartTime"]), _seconds(params["EndTime"])
    if end < start:
        raise invalid("The end time must not be before the start time.")
    if end - start > MAX_RANGE_SECONDS:
        raise invalid("Time range must be less than or equal to 24 hours.")
    try:
        traces, following = selectors.trace_summaries(
            req.account.id,
            start,
            end,
            params.get("FilterExpression"),
            _offset(params.get("NextToken")),
        )
    except selectors.InvalidFilter as exc:
        raise invalid(f"Invalid filter expression: {str(exc)[:200]}") from None
    body: dict[str, Any] = {
        "TraceSummaries": [_summary(trace) for trace in traces],
        "ApproximateTime": int(time.time()),
        "TracesProcessedCount": len(traces),
    }
    if following is not None:
        body["NextToken"] = _token(following)
    return ApiResponse(body)


@xray_api("BatchGetTraces")
def batch_get_traces(req: ApiRequest) -> ApiResponse:
    params = strictjson.nul_replaced(req.json())
    validate("xray", "BatchGetTraces", params)
    ids = list(dict.fromkeys(params["TraceIds"]))
    if len(ids) > MAX_TRACE_IDS:
        raise invalid(f"TraceIds must contain at most {MAX_TRACE_IDS} trace ids.")
    traces = selectors.traces_get(req.account.id, ids)
    found = {trace.id for trace in traces}
    return ApiResponse(
        {
            "Traces": [
                {
                    "Id": trace.id,
                    "Duration": trace.duration,
                    "LimitExceeded": trace.limit_exceeded,
                    "Segments": [
                        {"Id": doc["id"], "Document": json.dumps(doc, separators=(",", ":"))}
                        for doc in trace.segments
                    ],
                }
                for trace in traces
            ],
            "UnprocessedTraceIds": [trace_id for trace_id in ids if trace_id not in found],
        }
    )


@xray_api("PutTraceSegments")
def put_trace_segments(req: ApiRequest) -> ApiResponse:
    params = strictjson.nul_replaced(req.json())
    validate("xray", "PutTraceSegments", params)
    documents = params["TraceSegmentDocuments"]
    if len(documents) > MAX_DOCUMENTS:
        raise invalid(f"TraceSegmentDocuments must contain at most {MAX_DOCUMENTS} documents.")
    refused = services.trace_segments_put(req.account.id, documents)
    return ApiResponse(
        {
            "UnprocessedTraceSegments": [
                {"Id": item.id, "ErrorCode": item.error_code, "Message": item.message}
                for item in refused
            ]
        }
    )


def _summary(trace: selectors.Trace) -> dict[str, Any]:
    root = trace.root
    services_seen = trace.services()
    summary: dict[str, Any] = {
        "Id": trace.id,
        "StartTime": trace.start,
        "Duration": trace.duration,
        "ResponseTime": trace.response_time,
        "HasFault": trace.has("fault"),
        "HasError": trace.has("error"),
        "HasThrottle": trace.has("throttle"),
        "IsPartial": trace.partial,
        "ServiceIds": services_seen,
        "EntryPoint": {
            "Name": str(root.get("name")),
            "Names": [str(root.get("name"))],
            "Type": str(root.get("origin") or ""),
        },
        "Annotations": {},
        "Users": [],
    }
    http = root.get("http")
    if isinstance(http, dict) and isinstance(http.get("response"), dict):
        status = http["response"].get("status")
        if isinstance(status, int):
            summary["Http"] = {"HttpStatus": status}
    return summary


def _seconds(value: Any) -> float:
    """A timestamp as botocore sends it in REST-JSON (epoch seconds), or ISO 8601."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        import datetime as dt

        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise invalid("StartTime and EndTime must be timestamps.")


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: object) -> int:
    if token is None:
        return 0
    try:
        assert isinstance(token, str)
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
        assert isinstance(offset, int) and 0 <= offset <= selectors.MAX_TRACES_SCANNED
        return offset
    except (AssertionError, ValueError, KeyError, TypeError):
        raise invalid("The NextToken is not valid.") from None
