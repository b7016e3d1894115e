"""Reading traces: summaries in a time range (GetTraceSummaries), whole traces with their
separately sent subsegments nested under their parents (BatchGetTraces)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Min

from monitoring.traces.models import TraceSegment

PAGE_SIZE = 100
MAX_SEGMENTS_PER_TRACE = 2000
MAX_TRACES_SCANNED = 10_000


class InvalidFilter(ValueError):
    pass


@dataclass
class Trace:
    id: str
    segments: list[dict[str, Any]]  # root documents, subsegments nested
    limit_exceeded: bool = False
    entities: list[dict[str, Any]] = field(default_factory=list)  # every document as stored

    @property
    def start(self) -> float:
        return min(float(doc["start_time"]) for doc in self.entities)

    @property
    def end(self) -> float:
        ends = [doc.get("end_time") for doc in self.entities]
        return max([float(e) for e in ends if isinstance(e, int | float)] or [self.start])

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)

    @property
    def root(self) -> dict[str, Any]:
        """The entry point: the earliest segment whose parent is not in this trace."""
        ids = {doc["id"] for doc in self.entities}
        roots = [doc for doc in self.segments if doc.get("parent_id") not in ids]
        return min(roots or self.segments, key=lambda doc: float(doc["start_time"]))

    @property
    def response_time(self) -> float:
        root = self.root
        end = root.get("end_time")
        return round(float(end) - float(root["start_time"]), 3) if end is not None else 0.0

    def has(self, flag: str) -> bool:
        return any(doc.get(flag) is True for doc in _walk(self.segments))

    @property
    def partial(self) -> bool:
        return any(doc.get("in_progress") is True for doc in self.entities)

    def services(self) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for doc in self.segments:
            name, origin = str(doc.get("name")), str(doc.get("origin") or "")
            seen.setdefault((name, origin), {"Name": name, "Names": [name], "Type": origin})
        return list(seen.values())


def _walk(docs: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for doc in docs:
        yield doc
        children = doc.get("subsegments")
        if isinstance(children, list):
            yield from _walk(children)


def assemble(trace_id: str, rows: list[TraceSegment]) -> Trace:
    """The trace's documents with every separately sent subsegment under its parent (a
    subsegment whose parent never arrived is returned as a document of its own)."""
    latest: dict[str, TraceSegment] = {}
    for row in rows:  # an in-progress document is replaced by its completed one
        latest[row.segment_id] = row
    documents = [json.loads(row.document) for row in latest.values()]
    documents.sort(key=lambda doc: float(doc["start_time"]))
    entities = [dict(doc) for doc in documents]
    index: dict[str, dict[str, Any]] = {}
    for doc in _walk(documents):
        index.setdefault(doc["id"], doc)
    attached: set[int] = set()
    for doc in documents:
        if doc.get("type") != "subsegment":
            continue
        parent = index.get(doc.get("parent_id", ""))
        if parent is None or parent is doc or _contains(doc, parent):
            continue
        children = parent.setdefault("subsegments", [])
        if isinstance(children, list):
            children.append(doc)
            attached.add(id(doc))
    roots = [doc for doc in documents if id(doc) not in attached]
    return Trace(trace_id, roots, len(rows) >= MAX_SEGMENTS_PER_TRACE, entities)


def _contains(doc: dict[str, Any], target: dict[str, Any]) -> bool:
    return any(child is target for child in _walk([doc]))


def traces_get(account_id: str, trace_ids: list[str]) -> list[Trace]:
    found: list[Trace] = []
    for trace_id in trace_ids:
        rows = list(
            TraceSegment.objects.filter(account_id=account_id, trace_id=trace_id).order_by("id")[
                :MAX_SEGMENTS_PER_TRACE
            ]
        )
        if rows:
            found.append(assemble(trace_id, rows))
    return found


def trace_summaries(
    account_id: str,
    start: float,
    end: float,
    filter_expression: str | None = None,
    offset: int = 0,
) -> tuple[list[Trace], int | None]:
    """A page of the traces that started in [start, end], newest first, that match the
    filter; and the offset of the next page (None: no more)."""
    matches = compile_filter(filter_expression)
    ids = list(
        TraceSegment.objects.filter(
            account_id=account_id, start_time__gte=start, start_time__lte=end
        )
        .values("trace_id")
        .annotate(first=Min("start_time"))
        .order_by("-first", "trace_id")
        .values_list("trace_id", flat=True)[offset : offset + PAGE_SIZE]
    )
    traces = [trace for trace in traces_get(account_id, ids) if matches(trace)]
    following = offset + PAGE_SIZE if len(ids) == PAGE_SIZE else None
    if following is not None and following >= MAX_TRACES_SCANNED:
        following = None
    return traces, following


# -- the filter expression subset ------------------------------------------------------------

Predicate = Callable[[Trace], bool]
_COMPARISON = re.compile(r"^(responsetime|duration)\s*(>=|<=|!=|>|<|=)\s*(\d+(?:\.\d+)?)$")
_SERVICE = re.compile(r'^service\(\s*"([^"]{1,200})"\s*\)$')
_FLAGS = {"error", "fault", "throttle"}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def compile_filter(expression: str | None) -> Predicate:
    """``service("name")``, ``responsetime``/``duration`` compared with a number, ``error``,
    ``fault``, ``throttle``, ``ok``, each optionally negated with ``!``, joined with AND/OR
    (``&&``/``||``; AND binds tighter). Anything else is an invalid filter."""
    if expression is None or not expression.strip():
        return lambda trace: True
    if len(expression) > 2000:
        raise InvalidFilter(expression)
    alternatives = [
        [_term(part) for part in re.split(r"\s+(?:AND|and)\s+|\s*&&\s*", branch)]
        for branch in re.split(r"\s+(?:OR|or)\s+|\s*\|\|\s*", expression.strip())
    ]
    return lambda trace: any(all(term(trace) for term in terms) for terms in alternatives)


def _term(text: str) -> Predicate:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if text.startswith("!"):
        inner = _term(text[1:])
        return lambda trace: not inner(trace)
    lowered = text.lower()
    if lowered in _FLAGS:
        return lambda trace: trace.has(lowered)
    if lowered == "ok":
        return lambda trace: not any(trace.has(flag) for flag in _FLAGS)
    comparison = _COMPARISON.match(lowered)
    if comparison:
        what, operator, number = comparison.groups()
        compare, value = _OPERATORS[operator], float(number)
        if what == "responsetime":
            return lambda trace: compare(trace.response_time, value)
        return lambda trace: compare(trace.duration, value)
    service = _SERVICE.match(text)
    if service:
        name = service.group(1)
        return lambda trace: any(doc.get("name") == name for doc in trace.segments)
    raise InvalidFilter(text)


def trace_id_for_request(account_id: str, request_id: str) -> str | None:
    """The trace of the invocation ``request_id`` (its platform segments name it)."""
    if not request_id:
        return None
    row = (
        TraceSegment.objects.filter(account_id=account_id, request_id=request_id)
        .order_by("id")
        .values_list("trace_id", flat=True)
        .first()
    )
    return row


def timeline(trace: Trace) -> list[dict[str, Any]]:
    """Every segment and subsegment of ``trace`` as a row of a timeline: depth, offset and
    duration from the trace's start (ms), and whether it failed."""
    start = trace.start
    rows: list[dict[str, Any]] = []

    def visit(document: dict[str, Any], depth: int) -> None:
        began = float(document["start_time"])
        end = document.get("end_time")
        rows.append(
            {
                "name": str(document.get("name")),
                "origin": str(document.get("origin") or document.get("namespace") or ""),
                "depth": depth,
                "offset_ms": round((began - start) * 1000, 3),
                "duration_ms": round((float(end) - began) * 1000, 3)
                if isinstance(end, int | float)
                else None,
                "error": document.get("error") is True,
                "fault": document.get("fault") is True,
                "throttle": document.get("throttle") is True,
            }
        )
        children = document.get("subsegments")
        if isinstance(children, list) and depth < 16:
            for child in sorted(children, key=lambda c: float(c["start_time"])):
                visit(child, depth + 1)

    for document in sorted(trace.segments, key=lambda d: float(d["start_time"])):
        visit(document, 0)
    return rows[:500]
