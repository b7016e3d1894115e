"""Logs Insights through boto3 against the live server: StartQuery, GetQueryResults,
StopQuery, DescribeQueries, and the errors AWS gives."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import client_error, client_for, create_user

pytestmark = pytest.mark.live

REPORT = (
    "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 40 MB\t"
)


@pytest.fixture
def logs(functory, credentials):
    return client_for(functory, credentials, "logs")


def _now_s() -> int:
    return int(time.time())


def _seed(logs, group: str, messages: list[str], base_ms: int) -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": base_ms + i * 60_000, "message": m} for i, m in enumerate(messages)
        ],
    )


def _results(logs, query_id: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def _rows(answer: dict) -> list[dict[str, str]]:
    return [{cell["field"]: cell["value"] for cell in row} for row in answer["results"]]


def _query(logs, group: str, query: str, **extra) -> dict:
    now = _now_s()
    started = logs.start_query(
        logGroupName=group, startTime=now - 7200, endTime=now + 60, queryString=query, **extra
    )
    return _results(logs, started["queryId"])


def test_a_query_runs_to_complete_with_the_newest_rows(logs):
    base = (_now_s() - 3600) * 1000
    _seed(logs, "/q/basic", [f"line {i} ERROR" if i % 2 else f"line {i}" for i in range(10)], base)
    answer = _query(
        logs, "/q/basic", "fields @timestamp, @message | sort @timestamp desc | limit 3"
    )
    assert answer["status"] == "Complete"
    rows = _rows(answer)
    assert [row["@message"] for row in rows] == ["line 9 ERROR", "line 8", "line 7 ERROR"]
    assert all(set(row) == {"@timestamp", "@message", "@ptr"} for row in rows)
    assert answer["statistics"]["recordsScanned"] == 10.0
    assert answer["statistics"]["recordsMatched"] == 10.0

    errors = _query(logs, "/q/basic", 'filter @message like "ERROR" | stats count(*) as n')
    assert _rows(errors) == [{"n": "5"}]


def test_stats_by_bin_counts_per_period(logs):
    base = (_now_s() // 3600 * 3600 - 3600) * 1000  # on an hour boundary
    _seed(logs, "/q/bins", [f"m{i}" for i in range(12)], base)  # one a minute
    answer = _query(logs, "/q/bins", "stats count(*) as n by bin(5m)")
    assert answer["status"] == "Complete"
    assert [row["n"] for row in _rows(answer)] == ["5", "5", "2"]


def test_parse_extracts_fields_and_lambda_reports_are_discovered(logs):
    base = (_now_s() - 600) * 1000
    _seed(
        logs,
        "/aws/lambda/q-parse",
        [
            "user=alice action=login",
            "user=bob action=logout",
            REPORT.format("11111111-2222-3333-4444-555555555555", "10.0", "10"),
            REPORT.format("11111111-2222-3333-4444-666666666666", "30.0", "30"),
        ],
        base,
    )
    parsed = _query(
        logs,
        "/aws/lambda/q-parse",
        'parse @message "user=* action=*" as who, what | filter ispresent(who) '
        "| sort who asc | display who, what",
    )
    assert [(r["who"], r["what"]) for r in _rows(parsed)] == [("alice", "login"), ("bob", "logout")]
    reports = _query(
        logs,
        "/aws/lambda/q-parse",
        'filter @type = "REPORT" | stats avg(@duration) as avg, max(@billedDuration) as billed, '
        "max(@memorySize / 1000 / 1000) as mb",
    )
    assert _rows(reports) == [{"avg": "20", "billed": "30", "mb": "128"}]


def test_a_query_over_several_groups_reads_them_all(logs):
    base = (_now_s() - 600) * 1000
    _seed(logs, "/q/one", ["from one"], base)
    _seed(logs, "/q/two", ["from two"], base + 1000)
    now = _now_s()
    started = logs.start_query(
        logGroupNames=["/q/one", "/q/two"],
        startTime=now - 3600,
        endTime=now,
        queryString="stats count(*) as n by @log | sort @log asc",
    )
    rows = _rows(_results(logs, started["queryId"]))
    assert [row["@log"].split(":", 1)[1] for row in rows] == ["/q/one", "/q/two"]


def test_the_time_range_and_limit_bound_the_rows(logs):
    base = (_now_s() - 7200) * 1000
    _seed(logs, "/q/range", [f"m{i}" for i in range(100)], base)  # two hours, one a minute
    end = base // 1000 + 9 * 60  # the first ten events
    started = logs.start_query(
        logGroupName="/q/range", startTime=base // 1000, endTime=end, queryString="fields @message"
    )
    assert len(_rows(_results(logs, started["queryId"]))) == 10
    limited = _query(logs, "/q/range", "fields @message", limit=7)
    assert len(_rows(limited)) == 7


def test_stop_query_cancels_and_describe_queries_lists(logs):
    _seed(logs, "/q/stop", ["x"], (_now_s() - 60) * 1000)
    now = _now_s()
    started = logs.start_query(
        logGroupName="/q/stop", startTime=now - 600, endTime=now, queryString="fields @message"
    )
    try:
        stopped = logs.stop_query(queryId=started["queryId"])["success"]
    except ClientError as error:  # it finished before the stop arrived
        assert error.response["Error"]["Code"] == "InvalidParameterException"
        stopped = False
    answer = _results(logs, started["queryId"])
    assert (stopped, answer["status"]) in ((True, "Cancelled"), (False, "Complete"))
    with pytest.raises(ClientError) as ended:
        logs.stop_query(queryId=started["queryId"])
    assert client_error(ended) == (
        "InvalidParameterException",
        f"Query {started['queryId']} is not running",
        400,
    )
    queries = logs.describe_queries(logGroupName="/q/stop")["queries"]
    assert queries[0]["queryId"] == started["queryId"]
    assert queries[0]["queryString"] == "fields @message"
    assert queries[0]["logGroupName"] == "/q/stop"


def test_query_errors_use_aws_codes(logs):
    logs.create_log_group(logGroupName="/q/errors")
    now = _now_s()
    with pytest.raises(ClientError) as error:
        logs.start_query(
            logGroupName="/q/missing",
            startTime=now - 60,
            endTime=now,
            queryString="fields @message",
        )
    assert client_error(error) == (
        "ResourceNotFoundException",
        "Log group '/q/missing' does not exist",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.start_query(
            logGroupName="/q/errors",
            startTime=now - 60,
            endTime=now,
            queryString="fields @message |",
        )
    code, message, status = client_error(error)
    assert (code, status) == ("MalformedQueryException", 400)
    assert "mismatched input '<EOF>'" in message
    assert error.value.response["queryCompileError"]["location"]["startCharOffset"] == 17
    with pytest.raises(ClientError) as error:
        logs.start_query(
            logGroupName="/q/errors", startTime=now, endTime=now - 60, queryString="fields @message"
        )
    assert client_error(error)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        logs.start_query(
            logGroupName="/q/errors",
            startTime=now - 60,
            endTime=now,
            queryString="fields @message",
            limit=100_001,
        )
    assert client_error(error)[0] in ("InvalidParameterException", "ParamValidationError")
    with pytest.raises(ClientError) as error:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert client_error(error)[0] == "ResourceNotFoundException"


def test_another_account_cannot_read_or_stop_a_query(functory, logs):
    _seed(logs, "/q/private", ["secret"], (_now_s() - 60) * 1000)
    now = _now_s()
    query_id = logs.start_query(
        logGroupName="/q/private", startTime=now - 600, endTime=now, queryString="fields @message"
    )["queryId"]
    other = client_for(functory, create_user(functory), "logs")
    for call in (other.get_query_results, other.stop_query):
        with pytest.raises(ClientError) as error:
            call(queryId=query_id)
        assert client_error(error)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        other.start_query(
            logGroupName="/q/private",
            startTime=now - 600,
            endTime=now,
            queryString="fields @message",
        )
    assert client_error(error)[0] == "ResourceNotFoundException"


def test_hostile_queries_are_refused_or_bounded(logs):
    _seed(logs, "/q/hostile", ["x" * 5000, "plain"], (_now_s() - 60) * 1000)
    now = _now_s()

    def start(query: str) -> str:
        return logs.start_query(
            logGroupName="/q/hostile", startTime=now - 600, endTime=now + 60, queryString=query
        )["queryId"]

    for query in (
        "filter " + "(" * 2000 + "x" + ")" * 2000,
        "fields " + ", ".join(["a"] * 3000),
        "filter " + " or ".join(['@message like "abcdefgh"'] * 350),  # 10 KB
        "fields " + " + ".join(["1"] * 2400),
    ):
        assert len(query) <= 10_000
        try:
            _results(logs, start(query))
        except ClientError as error:
            assert error.response["Error"]["Code"] == "MalformedQueryException"
    slow = _results(logs, start("filter @message like /(x+x+)+y/"))
    assert slow["status"] == "Failed"


def test_a_query_started_on_one_replica_is_polled_and_stopped_on_another(functory_pair):
    first, second = functory_pair
    creds = create_user(first)
    starter, poller = client_for(first, creds, "logs"), client_for(second, creds, "logs")
    _seed(starter, "/q/replicas", [f"m{i}" for i in range(50)], (_now_s() - 3500) * 1000)
    now = _now_s()
    query_id = starter.start_query(
        logGroupName="/q/replicas",
        startTime=now - 3600,
        endTime=now,
        queryString="stats count(*) as n",
    )["queryId"]
    answer = _results(poller, query_id)
    assert (answer["status"], _rows(answer)) == ("Complete", [{"n": "50"}])
    with pytest.raises(ClientError) as ended:
        poller.stop_query(queryId=query_id)
    assert client_error(ended)[0] == "InvalidParameterException"
    listed = poller.describe_queries()["queries"]
    assert [q["queryId"] for q in listed] == [query_id]
