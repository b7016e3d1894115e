"""Storing trace segment documents (from the executor's batches and PutTraceSegments) and
expiring them: 30 days, as X-Ray keeps traces, and at most ``MAX_SEGMENTS_PER_ACCOUNT``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count

from awsapi import strictjson
from iam.models import Account
from invocations.executor import xray
from monitoring.traces.models import TraceSegment

RETENTION_SECONDS = 30 * 86400
MAX_SEGMENTS_PER_ACCOUNT = 200_000
MAX_DOCUMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class SegmentBatch:
    account_id: str
    documents: list[str]  # validated JSON text


def segment_row(account_id: str, document: dict[str, Any], text: str, now: float) -> TraceSegment:
    # Columns copied from the document are text: NUL (kept escaped in ``text``) cannot be.
    document = strictjson.nul_replaced(document)
    end = document.get("end_time")
    aws = document.get("aws")
    request_id = aws.get("request_id") if isinstance(aws, dict) else None
    return TraceSegment(
        account_id=account_id,
        trace_id=document["trace_id"],
        segment_id=document["id"],
        parent_id=document.get("parent_id") or "",
        subsegment=document.get("type") == "subsegment",
        name=document["name"],
        origin=str(document.get("origin") or "")[:64],
        start_time=float(document["start_time"]),
        end_time=float(end) if isinstance(end, int | float) else None,
        error=document.get("error") is True,
        fault=document.get("fault") is True,
        throttle=document.get("throttle") is True,
        document=text,
        request_id=request_id[:64] if isinstance(request_id, str) else "",
        received=now,
    )


def segment_batches_store(batches: Iterable[SegmentBatch], now: float | None = None) -> int:
    """Store the batches' documents in one transaction; returns how many."""
    stamp = time.time() if now is None else now
    batches = list(batches)
    # An account closed since its function ran takes its documents with it (one foreign key
    # failing would lose everyone's batch).
    existing = set(
        Account.objects.filter(id__in={batch.account_id for batch in batches}).values_list(
            "id", flat=True
        )
    )
    rows = [
        segment_row(batch.account_id, json.loads(text), text, stamp)
        for batch in batches
        if batch.account_id in existing
        for text in batch.documents
    ]
    if rows:
        with transaction.atomic():
            TraceSegment.objects.bulk_create(rows, batch_size=500)
    return len(rows)


@dataclass(frozen=True)
class Unprocessed:
    id: str
    error_code: str
    message: str


def trace_segments_put(
    account_id: str, documents: list[str], now: float | None = None
) -> list[Unprocessed]:
    """PutTraceSegments: keep each valid document; the others are answered as unprocessed
    (as X-Ray does, per document, rather than failing the call)."""
    stamp = time.time() if now is None else now
    rows: list[TraceSegment] = []
    refused: list[Unprocessed] = []
    for text in documents:
        document: Any = None
        if len(text.encode()) <= MAX_DOCUMENT_BYTES:
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                document = None
        if not xray.valid_document(document):
            ident = document.get("id") if isinstance(document, dict) else None
            refused.append(
                Unprocessed(
                    ident if isinstance(ident, str) else "",
                    "InvalidSegment",
                    "The segment document is not valid.",
                )
            )
            continue
        rows.append(segment_row(account_id, document, text, stamp))
    if rows:
        TraceSegment.objects.bulk_create(rows, batch_size=500)
    return refused


def traces_expire(now: float | None = None) -> int:
    """Delete segments past retention, then each account's oldest beyond its cap."""
    stamp = time.time() if now is None else now
    deleted, _ = TraceSegment.objects.filter(received__lt=stamp - RETENTION_SECONDS).delete()
    crowded = (
        TraceSegment.objects.values("account_id")
        .annotate(count=Count("id"))
        .filter(count__gt=MAX_SEGMENTS_PER_ACCOUNT)
    )
    for entry in crowded:
        rows = TraceSegment.objects.filter(account_id=entry["account_id"]).order_by("-received")
        cutoff = rows.values_list("received", flat=True)[MAX_SEGMENTS_PER_ACCOUNT]
        more, _ = TraceSegment.objects.filter(
            account_id=entry["account_id"], received__lte=cutoff
        ).delete()
        deleted += more
    return deleted
