"""The trace store: documents kept per account, subsegments sent apart nested under their
parents whatever order they came in, summaries filtered and paged, retention and caps."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from iam.models import Account
from invocations.executor import xray
from monitoring.traces import selectors, services
from monitoring.traces.models import TraceSegment

pytestmark = pytest.mark.django_db

OWNER = "111122223333"
OTHER = "444455556666"
NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def accounts() -> None:
    Account.objects.create(id=OWNER)
    Account.objects.create(id=OTHER)


def _doc(root: str, name: str, start: float, end: float, **extra: Any) -> dict[str, Any]:
    return {"id": xray.new_id(), "trace_id": root, "name": name, "start_time": start,
            "end_time": end, **extra}  # fmt: skip


def _store(account: str, *documents: dict[str, Any], received: float = NOW) -> None:
    batch = services.SegmentBatch(account, [json.dumps(document) for document in documents])
    services.segment_batches_store([batch], now=received)


def test_subsegments_sent_apart_nest_under_their_parents_in_any_order() -> None:
    root = xray.new_root()
    segment = _doc(root, "f", NOW, NOW + 1, origin="AWS::Lambda::Function")
    outer = _doc(root, "outer", NOW + 0.1, NOW + 0.9, type="subsegment", parent_id=segment["id"])
    inner = _doc(root, "inner", NOW + 0.2, NOW + 0.3, type="subsegment", parent_id=outer["id"])
    _store(OWNER, inner)  # the child ends (and is sent) first
    _store(OWNER, outer, segment)
    (trace,) = selectors.traces_get(OWNER, [root])
    (document,) = trace.segments
    assert document["id"] == segment["id"]
    (nested_outer,) = document["subsegments"]
    assert nested_outer["id"] == outer["id"]
    assert [sub["id"] for sub in nested_outer["subsegments"]] == [inner["id"]]


def test_a_subsegment_whose_parent_never_came_is_its_own_document() -> None:
    root = xray.new_root()
    orphan = _doc(root, "orphan", NOW, NOW + 1, type="subsegment", parent_id="1" * 16)
    _store(OWNER, orphan)
    (trace,) = selectors.traces_get(OWNER, [root])
    assert [document["id"] for document in trace.segments] == [orphan["id"]]


def test_subsegments_naming_each_other_as_parents_do_not_loop() -> None:
    root = xray.new_root()
    first = _doc(root, "a", NOW, NOW + 1, type="subsegment", parent_id="2" * 16, id="1" * 16)
    second = _doc(root, "b", NOW, NOW + 1, type="subsegment", parent_id="1" * 16, id="2" * 16)
    _store(OWNER, first, second)
    (trace,) = selectors.traces_get(OWNER, [root])
    assert len(list(selectors._walk(trace.segments))) <= 2


def test_a_trace_is_read_in_its_own_account_only() -> None:
    root = xray.new_root()
    _store(OWNER, _doc(root, "f", NOW, NOW + 1))
    assert selectors.traces_get(OTHER, [root]) == []
    assert selectors.trace_summaries(OTHER, NOW - 10, NOW + 10) == ([], None)


def test_summaries_are_filtered_by_service_response_time_and_flags() -> None:
    slow, failing, quick = xray.new_root(), xray.new_root(), xray.new_root()
    _store(OWNER, _doc(slow, "slow", NOW, NOW + 3), _doc(quick, "quick", NOW, NOW + 0.1))
    _store(OWNER, _doc(failing, "failing", NOW, NOW + 0.5, fault=True))

    def ids(expression: str) -> set[str]:
        traces, _ = selectors.trace_summaries(OWNER, NOW - 10, NOW + 10, expression)
        return {trace.id for trace in traces}

    assert ids('service("slow")') == {slow}
    assert ids("responsetime > 1") == {slow}
    assert ids("responsetime <= 0.5 AND !fault") == {quick}
    assert ids("fault OR duration >= 3") == {slow, failing}
    assert ids("ok") == {slow, quick}
    with pytest.raises(selectors.InvalidFilter):
        ids("annotation.x = 1")


def test_summaries_page_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    roots = [xray.new_root() for _ in range(5)]
    for second, root in enumerate(roots):
        _store(OWNER, _doc(root, "f", NOW + second, NOW + second + 0.1))
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        traces, offset = selectors.trace_summaries(OWNER, NOW - 10, NOW + 10, None, offset)
        seen += [trace.id for trace in traces]
    assert seen == list(reversed(roots))


def test_put_trace_segments_answers_each_invalid_document() -> None:
    root = xray.new_root()
    good = _doc(root, "f", NOW, NOW + 1)
    refused = services.trace_segments_put(
        OWNER, [json.dumps(good), json.dumps({**good, "id": "x"}), "{", "x" * 70_000]
    )
    assert [item.error_code for item in refused] == ["InvalidSegment"] * 3
    assert TraceSegment.objects.filter(account_id=OWNER).count() == 1


def test_segments_expire_after_30_days_and_beyond_the_accounts_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, kept = xray.new_root(), xray.new_root()
    _store(OWNER, _doc(old, "old", NOW, NOW + 1), received=NOW - services.RETENTION_SECONDS - 1)
    _store(OWNER, _doc(kept, "kept", NOW, NOW + 1))
    assert services.traces_expire(now=NOW) == 1
    assert set(TraceSegment.objects.values_list("trace_id", flat=True)) == {kept}

    monkeypatch.setattr(services, "MAX_SEGMENTS_PER_ACCOUNT", 3)
    for second in range(5):
        _store(OTHER, _doc(xray.new_root(), "n", NOW, NOW + 1), received=NOW + second)
    services.traces_expire(now=NOW + 10)
    remaining = TraceSegment.objects.filter(account_id=OTHER).values_list("received", flat=True)
    assert sorted(remaining) == [NOW + 2, NOW + 3, NOW + 4]
    assert TraceSegment.objects.filter(account_id=OWNER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_batch_writer_stores_what_the_executor_hands_it() -> None:
    from monitoring.traces.ingest import SegmentIngestor

    # A long interval: nothing is written before flush() (no race with the submits).
    ingestor = SegmentIngestor(interval=60, max_pending=12)
    root = xray.new_root()
    documents = [
        json.dumps(_doc(root, str(number), time.time(), time.time())) for number in range(5)
    ]
    ingestor.submit("999999999999", "gone", documents[:1])  # an account closed since
    ingestor.submit(OWNER, "f", documents)
    # Over its account's share (a quarter): dropped, never blocking the caller ...
    assert ingestor.dropped == 2
    ingestor.submit(OTHER, "f", documents[:3])  # ... while another account still fits
    assert ingestor.dropped == 2
    assert ingestor.flush()
    assert TraceSegment.objects.filter(trace_id=root, account_id=OWNER).count() == 3
    assert TraceSegment.objects.filter(trace_id=root, account_id=OTHER).count() == 3
    assert not TraceSegment.objects.filter(account_id="999999999999").exists()
