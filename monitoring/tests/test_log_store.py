"""The log store's selectors and services directly: account scoping, retention, patterns."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from iam.models import Account
from monitoring import errors, filter_patterns, selectors, services
from monitoring.batches import LogBatch
from monitoring.models import LogEvent, LogGroup, LogStream
from monitoring.services import log_batches_store
from monitoring.tasks import log_events_expire

OWNER = "111122223333"
OTHER = "444455556666"
DAY = 86_400_000
NOW = 1_700_000_000_000


@pytest.fixture
def owner(db) -> Account:
    return Account.objects.create(id=OWNER)


@pytest.fixture
def other(db) -> Account:
    return Account.objects.create(id=OTHER)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "/aws/lambda/hello"},
        {"identifier": "/aws/lambda/hello"},
        {"identifier": f"arn:aws:logs:us-east-1:{OWNER}:log-group:/aws/lambda/hello"},
        {"identifier": f"arn:aws:logs:eu-west-1:{OWNER}:log-group:/aws/lambda/hello:*"},
    ],
)
def test_the_group_selector_finds_the_callers_group(owner, kwargs):
    group = LogGroup.objects.create(account=owner, name="/aws/lambda/hello", created=1)
    assert selectors.log_group_get_for_account(owner, **kwargs) == group


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "/aws/lambda/hello"},
        {"identifier": f"arn:aws:logs:us-east-1:{OWNER}:log-group:/aws/lambda/hello"},
        {"identifier": f"arn:aws:logs:us-east-1:{OTHER}:log-group:/aws/lambda/hello"},
        {"name": "/AWS/LAMBDA/HELLO"},
    ],
)
def test_the_group_selector_never_reaches_another_account(owner, other, kwargs):
    LogGroup.objects.create(account=owner, name="/aws/lambda/hello", created=1)
    with pytest.raises(errors.ResourceNotFound, match=r"The specified log group does not exist\."):
        selectors.log_group_get_for_account(other, **kwargs)


def test_the_group_selector_wants_exactly_one_of_name_and_identifier(owner):
    with pytest.raises(errors.InvalidParameter):
        selectors.log_group_get_for_account(owner)
    with pytest.raises(errors.InvalidParameter):
        selectors.log_group_get_for_account(owner, "a", "a")


def _store(account: Account, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    log_batches_store([LogBatch(account.id, group, stream, events)])


def test_expiry_deletes_only_events_past_retention_and_is_idempotent(owner):
    _store(owner, "kept-forever", "s", [(NOW - 400 * DAY, "ancient")])
    _store(owner, "week", "s", [(NOW - 8 * DAY, "old"), (NOW - 6 * DAY, "recent")])
    _store(owner, "day", "s", [(NOW - DAY - 1, "old"), (NOW - DAY + 1, "recent")])
    LogGroup.objects.filter(name="week").update(retention_days=7)
    LogGroup.objects.filter(name="day").update(retention_days=1)

    assert services.log_events_expire(now=NOW, chunk=1) == 2
    assert services.log_events_expire(now=NOW) == 0
    remaining = sorted(LogEvent.objects.values_list("group__name", "message"))
    assert remaining == [("day", "recent"), ("kept-forever", "ancient"), ("week", "recent")]


def test_the_expiry_task_calls_the_service(owner):
    _store(owner, "g", "s", [(1, "from 1970")])
    LogGroup.objects.update(retention_days=1)
    assert log_events_expire.apply().get() == 1
    assert log_events_expire.apply().get() == 0


def test_put_rejections_follow_the_groups_retention(owner):
    LogGroup.objects.create(account=owner, name="g", created=1, retention_days=3)
    services.log_stream_create(owner, "g", "s")
    result = services.log_events_put(
        owner,
        "g",
        "s",
        [(NOW - 20 * DAY, "a"), (NOW - 4 * DAY, "b"), (NOW, "c"), (NOW + 3 * 3_600_000, "d")],
        now=NOW,
    )
    assert result.rejected == {"expiredLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}
    assert list(LogEvent.objects.values_list("message", flat=True)) == ["c"]
    stream = LogStream.objects.get()
    assert (stream.first_event, stream.last_event, stream.stored_bytes) == (NOW, NOW, 27)


def test_log_batches_store_still_creates_groups_and_streams(owner):
    stored = log_batches_store(
        [
            LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW, "a")]),
            LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW + 1, "b")]),
        ]
    )
    assert [len(batch.events) for batch in stored] == [2]
    assert LogEvent.objects.filter(group__name="/aws/lambda/f").count() == 2


def test_a_stream_remembered_from_earlier_batches_is_not_reused_once_its_group_is_gone(
    owner, other
):
    log_batches_store([LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW, "first")])])
    log_batches_store([LogBatch(other.id, "/aws/lambda/f", "s", [(NOW, "theirs")])])
    LogGroup.objects.filter(account=owner).delete()
    log_batches_store([LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW + 1, "second")])])
    mine = LogGroup.objects.get(account=owner)
    assert list(LogEvent.objects.filter(group=mine).values_list("message", flat=True)) == ["second"]
    theirs = LogGroup.objects.get(account=other)
    assert list(LogEvent.objects.filter(group=theirs).values_list("message", flat=True)) == [
        "theirs"
    ]
    stream = LogStream.objects.get(group=mine)
    assert (stream.first_event, stream.last_event) == (NOW + 1, NOW + 1)


def test_remembered_streams_keep_their_first_and_last_event_marks(owner):
    log_batches_store([LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW, "a")])])
    log_batches_store([LogBatch(owner.id, "/aws/lambda/f", "s", [(NOW - 5, "b"), (NOW + 9, "c")])])
    stream = LogStream.objects.get()
    assert (stream.first_event, stream.last_event) == (NOW - 5, NOW + 9)
    assert LogEvent.objects.filter(stream=stream).count() == 3


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", ["ERROR a", "error b", "WARN c", "ERROR d Exiting", "INFO [e] 50%_ok"]),
        ("ERROR", ["ERROR a", "ERROR d Exiting"]),
        ("error", ["error b"]),
        ("ERROR Exiting", ["ERROR d Exiting"]),
        ('"d Exiting"', ["ERROR d Exiting"]),
        ("?WARN ?error", ["error b", "WARN c"]),
        ("ERROR -Exiting", ["ERROR a"]),
        ("-ERROR -error", ["WARN c", "INFO [e] 50%_ok"]),
        # SQL LIKE's wildcards are plain characters (quoted: CloudWatch refuses them bare).
        ('"50%_ok"', ["INFO [e] 50%_ok"]),
        ('"%_"', ["INFO [e] 50%_ok"]),
        ('"[e]"', ["INFO [e] 50%_ok"]),
        ("  ", ["ERROR a", "error b", "WARN c", "ERROR d Exiting", "INFO [e] 50%_ok"]),
    ],
)
def test_filter_patterns_match_in_sql_as_in_python(owner, pattern, expected):
    messages = ["ERROR a", "error b", "WARN c", "ERROR d Exiting", "INFO [e] 50%_ok"]
    _store(owner, "g", "s", [(NOW + i, m) for i, m in enumerate(messages)])
    parsed = filter_patterns.parse(pattern)
    assert [m for m in messages if parsed.matches(m)] == expected
    group = LogGroup.objects.get()
    events, _ = selectors.log_events_filter(
        group,
        stream_names=None,
        stream_prefix=None,
        start=None,
        end=None,
        pattern=pattern,
        limit=None,
        token=None,
        start_from_head=True,
    )
    assert [e.message for e in events] == expected


@pytest.mark.parametrize("pattern", ['"open', '{ $.level = "ERROR"', "[ip, user", "50%_ok", '""'])
def test_malformed_patterns_are_invalid_parameters(pattern):
    with pytest.raises(errors.InvalidParameter):
        filter_patterns.parse(pattern)


def test_quoted_phrases_may_escape_quotes():
    parsed = filter_patterns.parse(r'"say \"hi\"" -"?x"')
    assert isinstance(parsed, filter_patterns.TextPattern)
    assert parsed.required == ('say "hi"',)
    assert parsed.excluded == ("?x",)


def test_newest_matches_of_a_common_term_walk_the_group_time_index(owner, monkeypatch):
    # ERROR is in three of the four blocks of 64 events: more than the index may narrow to.
    monkeypatch.setattr(selectors, "MAX_CANDIDATE_BLOCKS", 2)
    _store(
        owner, "g", "s", [(NOW + i, f"line {i} ERROR" if i % 10 == 0 else "ok") for i in range(200)]
    )
    group = LogGroup.objects.get()
    with CaptureQueriesContext(connection) as queries:
        events, token = selectors.log_events_filter(
            group,
            stream_names=None,
            stream_prefix=None,
            start=None,
            end=None,
            pattern="ERROR",
            limit=5,
            token=None,
            start_from_head=False,
        )
    assert [e.message for e in events] == [f"line {i} ERROR" for i in (190, 180, 170, 160, 150)]
    assert token is not None
    query = queries.captured_queries[-1]["sql"]
    assert "LIKE" not in query.upper()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + query)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "event_group_time" in plan and "TEMP B-TREE" not in plan


def test_sql_prefilters_keep_every_line_a_pattern_matches(owner):
    from monitoring.tests.test_filter_pattern_table import MATCHES

    lines = sorted({line for _, line, _ in MATCHES if line and len(line) < 5_000})
    _store(owner, "g", "s", [(NOW + i, line) for i, line in enumerate(lines)])
    stored = dict(LogEvent.objects.values_list("id", "message"))
    assert sorted(stored.values()) == lines
    for pattern in sorted({pattern for pattern, _, _ in MATCHES}):
        parsed = filter_patterns.parse(pattern)
        in_sql = set(
            LogEvent.objects.filter(parsed.q() if not parsed.matches_all else Q()).values_list(
                "id", flat=True
            )
        )
        in_python = {pk for pk, message in stored.items() if parsed.matches(message)}
        assert in_python <= in_sql, pattern
        if parsed.exact_in_sql:
            assert in_python == in_sql, pattern


def _filter(group, pattern, **kwargs):
    params = {
        "stream_names": None,
        "stream_prefix": None,
        "start": None,
        "end": None,
        "pattern": pattern,
        "limit": None,
        "token": None,
        "start_from_head": True,
    }
    params.update(kwargs)
    return selectors.log_events_filter(group, **params)


def _all_pages(group, pattern, **kwargs):
    pages, token = [], None
    while True:
        events, token = _filter(group, pattern, token=token, **kwargs)
        pages.append([e.message for e in events])
        if token is None:
            return pages
        assert len(pages) < 100, "the pages never end"


JSON_LINES = [
    json.dumps({"level": "ERROR" if i % 3 == 0 else "INFO", "latency": i, "n": i})
    for i in range(40)
] + ["ERROR not json", '{"level": "ERR\\u004fR", "latency": 99, "n": 99}']


@pytest.mark.parametrize("head", [True, False])
@pytest.mark.parametrize(
    "pattern",
    ['{ $.level = "ERROR" && $.latency > 5 }', "[level, ..., n > 30]", "%ERROR.*[0-9]%"],
)
def test_checked_patterns_page_through_every_match_once(owner, pattern, head):
    lines = JSON_LINES + [f"INFO x {i}" for i in range(40)]
    _store(owner, "g", "s", [(NOW + i, line) for i, line in enumerate(lines)])
    group = LogGroup.objects.get()
    parsed = filter_patterns.parse(pattern)
    expected = [line for line in lines if parsed.matches(line)]
    assert len(expected) >= 5
    pages = _all_pages(group, pattern, limit=2, start_from_head=head)
    seen = [message for page in pages for message in page]
    assert seen == (expected if head else expected[::-1])
    assert all(len(page) <= 2 for page in pages)


def test_a_scan_stops_at_its_row_budget_with_a_token_to_go_on(owner, monkeypatch):
    monkeypatch.setattr(selectors, "SCAN_ROWS", 7)
    monkeypatch.setattr(selectors, "SCAN_CHUNK", 3)
    # Every line has the pattern's literals, so SQL lets them all through to Python.
    lines = [json.dumps({"hit": i % 10 == 9, "true": True, "i": i}) for i in range(50)]
    _store(owner, "g", "s", [(NOW + i, line) for i, line in enumerate(lines)])
    group = LogGroup.objects.get()
    pages = _all_pages(group, "{ $.hit IS TRUE }")
    assert [m for page in pages for m in page] == [lines[i] for i in (9, 19, 29, 39, 49)]
    # Some pages come back empty yet carry a token, as CloudWatch's do mid-search.
    assert [] in pages[:-1]
    assert len(pages) == 8


def test_a_scan_stops_at_its_time_budget_with_a_token_to_go_on(owner):
    ticks = iter(range(10_000))
    lines = [json.dumps({"hit": i % 4 == 0, "true": True, "i": i}) for i in range(12)]
    _store(owner, "g", "s", [(NOW + i, line) for i, line in enumerate(lines)])
    group = LogGroup.objects.get()
    # Each look at the clock is a second later: a call examines two rows, then answers
    # (the seventh finds the last row was the last).
    pages = _all_pages(group, "{ $.hit IS TRUE }", clock=lambda: float(next(ticks)))
    assert [m for page in pages for m in page] == [lines[i] for i in (0, 4, 8)]
    assert [len(page) for page in pages] == [1, 0, 1, 0, 1, 0, 0]


def test_a_scan_keeps_to_the_response_size_budget(owner, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_RESPONSE_BYTES", 250)
    lines = [json.dumps({"hit": True, "pad": "x" * 60, "i": i}) for i in range(6)]
    _store(owner, "g", "s", [(NOW + i, line) for i, line in enumerate(lines)])
    group = LogGroup.objects.get()
    pages = _all_pages(group, "{ $.hit IS TRUE }")
    assert [m for page in pages for m in page] == lines
    assert [len(page) for page in pages] == [2, 2, 2]


def test_a_nul_in_one_line_neither_fails_the_batch_nor_loses_other_accounts_lines(owner):
    other = Account.objects.create(id="444455556666", name="other")
    log_batches_store(
        [
            LogBatch(owner.id, "g", "s", [(NOW, "before\x00after")]),
            LogBatch(other.id, "h", "s", [(NOW, "innocent")]),
        ]
    )
    assert sorted(LogEvent.objects.values_list("message", flat=True)) == [
        "before\ufffdafter",
        "innocent",
    ]
