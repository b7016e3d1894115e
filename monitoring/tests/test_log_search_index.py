"""The text search index: FilterLogEvents finds rare terms without scanning the group, and
answers exactly what a scan answers."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from iam.models import Account
from monitoring import search_index, selectors, services
from monitoring.batches import LogBatch
from monitoring.models import LogGroup, LogSearchBlock, LogStream
from monitoring.services import log_batches_store

pytestmark = pytest.mark.django_db

NOW = 1_700_000_000_000
DAY = 86_400_000


@pytest.fixture
def owner() -> Account:
    return Account.objects.create(id="111122223333", name="owner")


def _filter(group: LogGroup, pattern: str | None, **options: Any) -> tuple[list[Any], Any]:
    arguments: dict[str, Any] = {
        "stream_names": None,
        "stream_prefix": None,
        "start": None,
        "end": None,
        "limit": 100,
        "token": None,
        "start_from_head": False,
    }
    arguments.update(options)
    return selectors.log_events_filter(group, pattern=pattern, **arguments)


def _pages(group: LogGroup, pattern: str | None, **options: Any) -> list[tuple[int, str, str]]:
    """Every page's events, in order, as (id, stream, message)."""
    seen: list[tuple[int, str, str]] = []
    token = None
    for _ in range(1_000):
        events, token = _filter(group, pattern, token=token, **options)
        seen += [(event.id, event.stream_name, event.message) for event in events]
        if token is None:
            return seen
    raise AssertionError("paging never ended")


def _store(owner: Account, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    log_batches_store([LogBatch(owner.id, group, stream, events)])


def test_a_rare_term_reads_only_the_events_of_the_blocks_that_hold_it(owner):
    lines = [
        (NOW + i, "FATAL disk" if i in (7, 1_500, 2_990) else f"INFO {i}") for i in range(3_000)
    ]
    _store(owner, "g", "s", lines)
    group = LogGroup.objects.get()
    with CaptureQueriesContext(connection) as queries:
        events, token = _filter(group, "FATAL")
    assert [event.message for event in events] == ["FATAL disk"] * 3
    assert [event.timestamp for event in events] == [NOW + 2_990, NOW + 1_500, NOW + 7]
    assert token is None
    sql = [query["sql"] for query in queries.captured_queries]
    assert any(search_index.BLOCKS in statement for statement in sql)
    reads = [statement for statement in sql if "monitoring_logevent" in statement]
    assert len(reads) == 1
    # Three blocks of 32 events are named, not the group's 3,000.
    assert reads[0].count(",") < 3 * search_index.BLOCK_EVENTS + 20
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + reads[0])
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "event_group_time" not in plan and "PRIMARY KEY" in plan


def _corpus(owner: Account, seed: int) -> None:
    """Events in three groups and streams, timestamps out of id order, words of every
    frequency, and characters that mean something to FTS5 and LIKE."""
    rng = random.Random(seed)
    words = [
        "INFO", "INFO", "INFO", "WARN", "ERROR", "FATAL", "ab", "x", "done", "50%", "a_b",
        'say "hi"', "NEAR(x)", "AND", "OR", "*", "back\\slash", "héllo", "naïve", "-dash",
        "request", "req", "uest",
    ]  # fmt: skip
    for batch in range(40):
        group = f"g{batch % 3}"
        stream = f"s{batch % 2}"
        events = []
        for _ in range(rng.randint(1, 90)):
            count = rng.randint(1, 5)
            message = " ".join(rng.choice(words) for _ in range(count))
            events.append((NOW + rng.randint(0, 10_000), message))
        events.sort()
        _store(owner, group, stream, events)


# Terms with characters other than letters, digits and "_" are quoted, as CloudWatch needs.
PATTERNS = [
    "FATAL", "ERROR", "INFO", "done", "ab", "x", "ERROR FATAL", "?FATAL ?done", "?FATAL ?ab",
    "ERROR -FATAL", '"say \\"hi\\""', '"50%"', "a_b", '"NEAR(x)"', "AND", '"*"',
    '"back\\\\slash"', "héllo", "naïve", "uest", "req", '"request req"', "-INFO",
    "WARN ?ERROR ?héllo", '"nothing-here"', "nothing-here", '"INFO INFO INFO"', '-"-dash"',
]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_the_index_answers_every_page_exactly_as_a_scan_does(owner, monkeypatch, seed):
    _corpus(owner, seed)
    groups = list(LogGroup.objects.order_by("name"))
    cases = []
    for group in groups:
        for pattern in PATTERNS:
            for options in (
                {},
                {"start_from_head": True, "limit": 7},
                {"start": NOW + 2_000, "end": NOW + 6_000, "limit": 5},
                {"stream_names": ["s1"], "limit": 9},
                {"stream_prefix": "s0", "start_from_head": True},
            ):
                cases.append((group, pattern, options))
    indexed = [_pages(group, pattern, **options) for group, pattern, options in cases]
    monkeypatch.setattr(search_index, "available", lambda: False)
    scanned = [_pages(group, pattern, **options) for group, pattern, options in cases]
    for (group, pattern, options), got, expected in zip(cases, indexed, scanned, strict=True):
        assert got == expected, (group.name, pattern, options)
    assert any(scanned), "the corpus matches something"


def test_deletes_and_expiry_keep_the_index_true(owner):
    _store(owner, "gone", "s", [(NOW, "FATAL in a deleted group")])
    _store(owner, "kept", "old", [(NOW - 3 * DAY, "FATAL expired")])
    _store(owner, "kept", "new", [(NOW, "FATAL kept")])
    _store(owner, "kept", "doomed", [(NOW, "FATAL in a deleted stream")])
    LogGroup.objects.get(name="gone").delete()
    LogStream.objects.get(name="doomed").delete()
    LogGroup.objects.filter(name="kept").update(retention_days=1)
    services.log_events_expire(now=NOW)
    assert sorted(LogSearchBlock.objects.values_list("text", flat=True)) == ["FATAL kept"]
    kept = LogGroup.objects.get(name="kept")
    assert [event.message for event in _filter(kept, "FATAL")[0]] == ["FATAL kept"]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # FTS5 checks its index against the block table's text.
            cursor.execute(
                f"INSERT INTO {search_index.FTS}({search_index.FTS}) VALUES ('integrity-check')"
            )


def test_events_stored_before_the_index_existed_are_indexed_by_the_migration(owner):
    _store(owner, "g", "s", [(NOW + i, f"line {i}") for i in range(100)])
    _store(owner, "g", "t", [(NOW + 500, "the needle")])
    LogSearchBlock.objects.all().delete()
    assert _filter(LogGroup.objects.get(), "needle")[0] == []  # the index knows nothing

    search_index._backfill(apps, chunk=30)

    assert [event.message for event in _filter(LogGroup.objects.get(), "needle")[0]] == [
        "the needle"
    ]
    assert LogSearchBlock.objects.filter(stream__name="s").count() == 4  # 30-id chunks


def test_a_block_ends_with_the_line_that_fills_it(owner):
    big = "A" * 200_000 + " needle"
    _store(owner, "g", "s", [(NOW, "before"), (NOW + 1, big), (NOW + 2, "after")])
    texts = list(LogSearchBlock.objects.order_by("first_id").values_list("text", flat=True))
    assert texts == ["before\n" + big, "after"]
    assert [event.timestamp for event in _filter(LogGroup.objects.get(), "needle")[0]] == [NOW + 1]
