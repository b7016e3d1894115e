"""Reads of Logs Insights queries, only ever within the caller's account."""

from __future__ import annotations

import time
from typing import Any

from iam.models import Account
from monitoring import errors
from monitoring.models import LogQuery

ACTIVE = (LogQuery.SCHEDULED, LogQuery.RUNNING)


def log_query_get(account: Account, query_id: str) -> LogQuery:
    """The query ``query_id`` of ``account`` (another account's is not found)."""
    query = LogQuery.objects.filter(account=account, query_id=query_id).first()
    if query is None:
        raise errors.ResourceNotFound("The specified query does not exist.")
    return query


def status_of(query: LogQuery, now_ms: int | None = None) -> str:
    """The status to report: a query still "running" past its deadline lost its runner
    (the process ended), so it timed out."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if query.status in ACTIVE and now_ms > query.deadline:
        return LogQuery.TIMEOUT
    return query.status


def log_query_results(account: Account, query_id: str) -> dict[str, Any]:
    """GetQueryResults' body: the status, and once finished the results and statistics."""
    query = log_query_get(account, query_id)
    status = status_of(query)
    finished = query.status not in ACTIVE
    return {
        "queryLanguage": "CWLI",
        "results": query.results if finished else [],
        "statistics": {
            "recordsMatched": float(query.records_matched),
            "recordsScanned": float(query.records_scanned),
            "bytesScanned": float(query.bytes_scanned),
        },
        "status": status,
    }


def log_queries_list(
    account: Account, *, group_name: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """DescribeQueries: the account's recent queries, newest first."""
    queries = LogQuery.objects.filter(account=account).order_by("-created", "-id")
    described: list[dict[str, Any]] = []
    now = int(time.time() * 1000)
    for query in queries.only(
        "query_id", "query_string", "status", "created", "deadline", "finished", "group_names"
    ).iterator(chunk_size=200):
        if group_name is not None and group_name not in query.group_names:
            continue
        current = status_of(query, now)
        if status is not None and current != status:
            continue
        item: dict[str, Any] = {
            "queryLanguage": "CWLI",
            "queryId": query.query_id,
            "queryString": query.query_string,
            "status": current,
            "createTime": query.created,
            "logGroupName": query.group_names[0] if query.group_names else "",
        }
        if query.finished is not None:
            item["queryDuration"] = max(query.finished - query.created, 0)
        described.append(item)
        if len(described) >= limit:
            break
    return described
