"""Logs Insights queries in process: the stored query's life (claimed once, stopped from
anywhere, timed out when its runner is gone), the account's concurrency limit, the search
index narrowing literal filters, and the budgets."""

from __future__ import annotations

from typing import Any

import pytest

from iam.models import Account
from monitoring import errors, search_index
from monitoring.batches import LogBatch
from monitoring.insights import selectors, services
from monitoring.models import LogQuery
from monitoring.services import log_batches_store

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000_000


@pytest.fixture
def owner() -> Account:
    account = Account.objects.create(id="111122223333", name="owner")
    events = [
        (T0 + i * 1000, f"line {i} {'rare-term' if i == 777 else 'common'}") for i in range(2000)
    ]
    log_batches_store([LogBatch(account.id, "/app", "s1", events)])
    return account


def _start(account: Account, query: str, **extra: Any) -> LogQuery:
    params = {
        "logGroupName": "/app",
        "startTime": T0 // 1000,
        "endTime": T0 // 1000 + 3600,
        "queryString": query,
        **extra,
    }
    return services.query_start(account, params, background=False)


def _rows(account: Account, query: LogQuery) -> list[dict[str, str]]:
    answer = selectors.log_query_results(account, query.query_id)
    return [{cell["field"]: cell["value"] for cell in row} for row in answer["results"]]


def test_a_started_query_runs_once_and_keeps_its_results(owner):
    query = _start(owner, "stats count(*) as n")
    assert selectors.log_query_results(owner, query.query_id)["status"] == "Scheduled"
    assert services.query_run(query.pk) == "Complete"
    assert services.query_run(query.pk) == ""  # already claimed
    assert _rows(owner, query) == [{"n": "2000"}]
    statistics = selectors.log_query_results(owner, query.query_id)["statistics"]
    assert statistics["recordsScanned"] == 2000.0


def test_a_stopped_query_is_never_run(owner):
    query = _start(owner, "fields @message")
    assert services.query_stop(owner, query.query_id) is True
    assert services.query_run(query.pk) == ""
    assert selectors.log_query_results(owner, query.query_id)["status"] == "Cancelled"
    with pytest.raises(errors.InvalidParameter) as error:
        services.query_stop(owner, query.query_id)
    assert error.value.message == f"Query {query.query_id} is not running"


def test_a_query_whose_runner_died_reports_timeout(owner):
    query = _start(owner, "fields @message")
    LogQuery.objects.filter(pk=query.pk).update(status="Running", deadline=T0)
    assert selectors.log_query_results(owner, query.query_id)["status"] == "Timeout"


def test_a_query_past_its_time_budget_ends_as_timeout(owner):
    query = _start(owner, "fields @message")
    ticks = iter(range(0, 10_000, 10))
    assert services.query_run(query.pk, clock=lambda: float(next(ticks))) == "Timeout"


def test_the_account_may_run_only_so_many_queries_at_once(owner, settings):
    settings.FUNCTORY_LOGS_QUERY_CONCURRENCY = 2
    _start(owner, "fields @message")
    _start(owner, "fields @message")
    with pytest.raises(errors.LimitExceeded) as error:
        _start(owner, "fields @message")
    assert error.value.message == "Account maximum query concurrency limit of [2] reached."


def test_finished_queries_past_the_retention_are_forgotten(owner, settings):
    old = _start(owner, "fields @message")
    LogQuery.objects.filter(pk=old.pk).update(created=T0)
    _start(owner, "fields @message")
    assert not LogQuery.objects.filter(pk=old.pk).exists()


def test_another_accounts_query_is_not_found(owner):
    query = _start(owner, "fields @message")
    stranger = Account.objects.create(id="444455556666", name="stranger")
    with pytest.raises(errors.ResourceNotFound):
        selectors.log_query_results(stranger, query.query_id)
    with pytest.raises(errors.ResourceNotFound):
        services.query_stop(stranger, query.query_id)


def test_a_literal_filter_reads_only_the_search_index_candidates(owner):
    if not search_index.available():
        pytest.skip("this database has no search index")
    query = _start(owner, 'filter @message like "rare-term" | fields @message')
    assert services.query_run(query.pk) == "Complete"
    assert _rows(owner, query)[0]["@message"] == "line 777 rare-term"
    scanned = selectors.log_query_results(owner, query.query_id)["statistics"]["recordsScanned"]
    assert scanned <= search_index.BLOCK_EVENTS


def test_a_literal_filter_answers_what_a_scan_answers(owner):
    indexed = _start(owner, 'filter @message like "line 1" | stats count(*) as n')
    scanned = _start(owner, "filter @message like /line 1/ | stats count(*) as n")
    services.query_run(indexed.pk)
    services.query_run(scanned.pk)
    assert _rows(owner, indexed) == _rows(owner, scanned) == [{"n": "1111"}]


def test_results_are_bounded_in_bytes(owner, settings):
    settings.FUNCTORY_LOGS_QUERY_RESULT_BYTES = 1000
    query = _start(owner, "fields @message")
    services.query_run(query.pk)
    assert 1 <= len(_rows(owner, query)) < 30


def test_describe_lists_newest_first_with_status_filter(owner):
    first = _start(owner, "fields @message")
    second = _start(owner, "stats count(*)")
    services.query_run(second.pk)
    listed = selectors.log_queries_list(owner, group_name="/app", status=None, limit=10)
    assert [item["queryId"] for item in listed][:2] == [second.query_id, first.query_id]
    complete = selectors.log_queries_list(owner, group_name=None, status="Complete", limit=10)
    assert [item["queryId"] for item in complete] == [second.query_id]
    assert selectors.log_queries_list(owner, group_name="/other", status=None, limit=10) == []


def test_a_query_that_waited_past_its_deadline_is_never_run(owner):
    query = _start(owner, "fields @message")
    LogQuery.objects.filter(pk=query.pk).update(deadline=T0)
    assert services.query_run(query.pk) == ""
    assert selectors.log_query_results(owner, query.query_id)["status"] == "Timeout"


def test_a_fault_while_running_leaves_the_query_failed(owner, monkeypatch):
    query = _start(owner, "fields @message")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_event_rows", broken)
    monkeypatch.setattr(services.connection, "close", lambda: None)  # the test's connection
    services._run_logged(query.pk)
    stored = LogQuery.objects.get(pk=query.pk)
    assert (stored.status, stored.error) == ("Failed", "the database went away")


def test_a_literal_no_event_holds_reads_no_event(owner):
    if not search_index.available():
        pytest.skip("this database has no search index")
    query = _start(owner, 'filter @message like "absent-everywhere" | stats count(*) as n')
    services.query_run(query.pk)
    answer = selectors.log_query_results(owner, query.query_id)
    assert answer["statistics"]["recordsScanned"] == 0.0
    assert _rows(owner, query) == [{"n": "0"}]


def test_a_parse_that_rewrites_the_message_reads_every_event(owner):
    query = _start(
        owner, 'parse @message "line * *" as n, @message | filter @message like "rare-term"'
    )
    services.query_run(query.pk)
    answer = selectors.log_query_results(owner, query.query_id)
    assert answer["statistics"]["recordsScanned"] == 2000.0
    assert [row["n"] for row in _rows(owner, query)] == ["777"]
