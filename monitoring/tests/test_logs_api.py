"""The CloudWatch Logs API subset through boto3, against the live server."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import client_error, client_for, create_user

pytestmark = pytest.mark.live


@pytest.fixture
def logs(functory, credentials):
    return client_for(functory, credentials, "logs")


@pytest.fixture
def raw_logs(functory, credentials):
    return client_for(functory, credentials, "logs", validate=False)


def _now() -> int:
    return int(time.time() * 1000)


def _group_with_events(logs, group: str, streams: dict[str, list[tuple[int, str]]]) -> None:
    logs.create_log_group(logGroupName=group)
    for stream, events in streams.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        if not events:
            continue
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ts, "message": m} for ts, m in events],
        )


def test_it_creates_describes_and_deletes_log_groups(logs, credentials):
    logs.create_log_group(logGroupName="/app/one")
    logs.create_log_group(logGroupName="/app/two")
    logs.create_log_group(logGroupName="/other")
    groups = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/app/one", "/app/two", "/other"]
    one = groups[0]
    assert one["arn"] == f"arn:aws:logs:us-east-1:{credentials.account_id}:log-group:/app/one:*"
    assert (
        one["logGroupArn"] == f"arn:aws:logs:us-east-1:{credentials.account_id}:log-group:/app/one"
    )
    assert one["storedBytes"] == 0 and one["metricFilterCount"] == 0
    assert abs(one["creationTime"] - _now()) < 60_000
    assert "retentionInDays" not in one

    prefixed = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in prefixed] == ["/app/one", "/app/two"]
    assert logs.describe_log_groups(logGroupNamePrefix="/APP/")["logGroups"] == []

    first = logs.describe_log_groups(limit=2)
    assert len(first["logGroups"]) == 2
    rest = logs.describe_log_groups(limit=2, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/other"]
    assert "nextToken" not in rest
    paged = logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 1})
    assert len([g for page in paged for g in page["logGroups"]]) == 3

    logs.delete_log_group(logGroupName="/app/one")
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert names == ["/app/two", "/other"]


def test_log_group_errors_use_aws_texts(logs, raw_logs):
    logs.create_log_group(logGroupName="dup")
    with pytest.raises(ClientError) as error:
        logs.create_log_group(logGroupName="dup")
    assert client_error(error) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.delete_log_group(logGroupName="missing")
    assert client_error(error) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
        400,
    )
    with pytest.raises(ClientError) as error:
        raw_logs.create_log_group(logGroupName="bad:name")
    assert client_error(error) == (
        "InvalidParameterException",
        "1 validation error detected: Value 'bad:name' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        400,
    )
    with pytest.raises(ClientError) as error:
        raw_logs.describe_log_groups(limit=51)
    assert client_error(error)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        logs.describe_log_groups(nextToken="garbage")
    assert client_error(error) == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
        400,
    )


def test_log_groups_are_private_to_their_account(functory, logs):
    logs.create_log_group(logGroupName="mine")
    other = client_for(functory, create_user(functory), "logs")
    assert other.describe_log_groups()["logGroups"] == []
    for call in (
        lambda: other.delete_log_group(logGroupName="mine"),
        lambda: other.describe_log_streams(logGroupName="mine"),
        lambda: other.put_retention_policy(logGroupName="mine", retentionInDays=1),
        lambda: other.create_log_stream(logGroupName="mine", logStreamName="s"),
        lambda: other.filter_log_events(logGroupName="mine"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert client_error(error)[0] == "ResourceNotFoundException"
    other.create_log_group(logGroupName="mine")  # the same name is free in another account
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["mine"]


def test_retention_policy_accepts_only_aws_day_values(logs):
    logs.create_log_group(logGroupName="kept")
    logs.put_retention_policy(logGroupName="kept", retentionInDays=14)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 14
    with pytest.raises(ClientError) as error:
        logs.put_retention_policy(logGroupName="kept", retentionInDays=2)
    code, message, status = client_error(error)
    assert (code, status) == ("InvalidParameterException", 400)
    assert message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120"
    )
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName="kept")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    for call in (
        lambda: logs.put_retention_policy(logGroupName="nope", retentionInDays=1),
        lambda: logs.delete_retention_policy(logGroupName="nope"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert client_error(error)[:2] == (
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )


def test_it_creates_and_describes_log_streams(logs, credentials):
    now = _now()
    _group_with_events(
        logs,
        "g",
        {"b-stream": [(now - 3000, "x")], "a-stream": [(now - 1000, "y")], "c-stream": []},
    )
    streams = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a-stream", "b-stream", "c-stream"]
    a = streams[0]
    assert a["arn"] == (
        f"arn:aws:logs:us-east-1:{credentials.account_id}:log-group:g:log-stream:a-stream"
    )
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == now - 1000
    assert a["storedBytes"] == 27
    assert "lastEventTimestamp" not in streams[2]

    by_time = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)[
        "logStreams"
    ]
    assert [s["logStreamName"] for s in by_time] == ["a-stream", "b-stream", "c-stream"]
    by_name_desc = logs.describe_log_streams(logGroupName="g", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_name_desc] == ["c-stream", "b-stream", "a-stream"]
    prefixed = logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="b")
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == ["b-stream"]

    page = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", limit=2)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["c-stream", "b-stream"]
    rest = logs.describe_log_streams(
        logGroupName="g", orderBy="LastEventTime", limit=2, nextToken=page["nextToken"]
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["a-stream"]
    assert "nextToken" not in rest


def test_log_stream_errors_use_aws_texts(logs, raw_logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(ClientError) as error:
        logs.create_log_stream(logGroupName="g", logStreamName="s")
    assert client_error(error) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.create_log_stream(logGroupName="nope", logStreamName="s")
    assert client_error(error)[:2] == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    with pytest.raises(ClientError) as error:
        logs.describe_log_streams(
            logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="s"
        )
    assert client_error(error) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
        400,
    )
    with pytest.raises(ClientError) as error:
        raw_logs.describe_log_streams(logGroupName="g", orderBy="Size")
    assert client_error(error) == (
        "InvalidParameterException",
        "1 validation error detected: Value 'Size' at 'orderBy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.get_log_events(logGroupName="g", logStreamName="missing")
    assert client_error(error) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
        400,
    )


def test_put_log_events_stores_and_rejects_out_of_range_events(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = _now()
    day = 86_400_000
    response = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        sequenceToken="anything-at-all",
        logEvents=[
            {"timestamp": now - 15 * day, "message": "too old"},
            {"timestamp": now - 1000, "message": "kept one"},
            {"timestamp": now, "message": "kept two"},
            {"timestamp": now + 3 * 3_600_000, "message": "too new"},
        ],
    )
    assert response["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 0,
        "tooNewLogEventStartIndex": 3,
    }
    assert response["nextSequenceToken"]
    events = logs.get_log_events(logGroupName="g", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept one", "kept two"]
    assert all(abs(e["ingestionTime"] - now) < 60_000 for e in events)

    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    response = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now - 2 * day, "message": "expired"}],
    )
    assert response["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    plain = logs.put_log_events(
        logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": "ok"}]
    )
    assert "rejectedLogEventsInfo" not in plain


def test_put_log_events_rejects_bad_batches_and_stores_nothing(logs, raw_logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = _now()
    cases = [
        (
            [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
            "Log events in a single PutLogEvents request must be in chronological order.",
        ),
        (
            [
                {"timestamp": now - 25 * 3_600_000, "message": "a"},
                {"timestamp": now, "message": "b"},
            ],
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours.",
        ),
        (
            [
                {"timestamp": now, "message": "x" * 600_000},
                {"timestamp": now, "message": "y" * 600_000},
            ],
            "Upload too large: 1200052 bytes exceeds limit of 1048576",
        ),
    ]
    for events, message in cases:
        with pytest.raises(ClientError) as error:
            logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        assert client_error(error) == ("InvalidParameterException", message, 400)
    with pytest.raises(ClientError) as error:
        raw_logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[])
    assert client_error(error) == (
        "InvalidParameterException",
        "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.put_log_events(
            logGroupName="g",
            logStreamName="missing",
            logEvents=[{"timestamp": now, "message": "m"}],
        )
    assert client_error(error)[:2] == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    assert logs.get_log_events(logGroupName="g", logStreamName="s")["events"] == []
    assert "lastEventTimestamp" not in logs.describe_log_streams(logGroupName="g")["logStreams"][0]


def test_get_log_events_pages_with_forward_and_backward_tokens(logs):
    base = _now() - 100_000
    _group_with_events(logs, "g", {"s": [(base + i, f"line {i}") for i in range(10)]})

    def messages(page):
        return [e["message"] for e in page["events"]]

    tail = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3)
    assert messages(tail) == ["line 7", "line 8", "line 9"]
    back = logs.get_log_events(
        logGroupName="g", logStreamName="s", limit=3, nextToken=tail["nextBackwardToken"]
    )
    assert messages(back) == ["line 4", "line 5", "line 6"]

    head = logs.get_log_events(logGroupName="g", logStreamName="s", limit=4, startFromHead=True)
    assert messages(head) == ["line 0", "line 1", "line 2", "line 3"]
    token, seen = head["nextForwardToken"], messages(head)
    while True:
        page = logs.get_log_events(
            logGroupName="g", logStreamName="s", limit=4, startFromHead=True, nextToken=token
        )
        seen += messages(page)
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"line {i}" for i in range(10)]
    assert page["events"] == []

    # A forward token picks up events written after the end was reached.
    logs.put_log_events(
        logGroupName="g", logStreamName="s", logEvents=[{"timestamp": base + 50, "message": "new"}]
    )
    later = logs.get_log_events(
        logGroupName="g", logStreamName="s", startFromHead=True, nextToken=token
    )
    assert messages(later) == ["new"]

    window = logs.get_log_events(
        logGroupName="g",
        logStreamName="s",
        startTime=base + 2,
        endTime=base + 5,
        startFromHead=True,
    )
    assert messages(window) == ["line 2", "line 3", "line 4"]

    with pytest.raises(ClientError) as error:
        logs.get_log_events(logGroupName="g", logStreamName="s", nextToken="x/123")
    assert client_error(error)[:2] == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
    )


def test_get_log_events_on_an_empty_stream_returns_stable_tokens(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    first = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)
    assert first["events"] == []
    again = logs.get_log_events(
        logGroupName="g", logStreamName="s", startFromHead=True, nextToken=first["nextForwardToken"]
    )
    assert again["nextForwardToken"] == first["nextForwardToken"]


def test_filter_log_events_matches_patterns_across_streams(logs):
    base = _now() - 100_000
    _group_with_events(
        logs,
        "g",
        {
            "s1": [(base + 1, "ERROR disk full"), (base + 3, "INFO ok"), (base + 5, "WARN slow")],
            "s2": [(base + 2, "error lowercase"), (base + 4, "ERROR Exiting now"), (base + 6, "x")],
        },
    )

    def found(**kwargs):
        events = logs.filter_log_events(logGroupName="g", **kwargs)["events"]
        return [e["message"] for e in events]

    assert found() == [
        "ERROR disk full",
        "error lowercase",
        "INFO ok",
        "ERROR Exiting now",
        "WARN slow",
        "x",
    ]
    assert found(filterPattern="ERROR") == ["ERROR disk full", "ERROR Exiting now"]
    assert found(filterPattern="ERROR full") == ["ERROR disk full"]
    assert found(filterPattern='"disk full"') == ["ERROR disk full"]
    assert found(filterPattern='"full disk"') == []
    assert found(filterPattern="?WARN ?INFO") == ["INFO ok", "WARN slow"]
    assert found(filterPattern="ERROR -Exiting") == ["ERROR disk full"]
    assert found(filterPattern="ERROR", logStreamNames=["s2"]) == ["ERROR Exiting now"]
    assert found(logStreamNamePrefix="s1", filterPattern="-ERROR") == ["INFO ok", "WARN slow"]
    assert found(startTime=base + 3, endTime=base + 4) == ["INFO ok", "ERROR Exiting now"]
    assert found(filterPattern="ERROR", startFromHead=False) == [
        "ERROR Exiting now",
        "ERROR disk full",
    ]

    response = logs.filter_log_events(logGroupName="g", filterPattern="WARN", interleaved=True)
    (event,) = response["events"]
    assert event["logStreamName"] == "s1"
    assert event["timestamp"] == base + 5
    assert event["eventId"].isdigit() and len(event["eventId"]) == 56
    assert response["searchedLogStreams"] == []
    assert "nextToken" not in response


def test_filter_log_events_paginates_in_either_direction(logs):
    base = _now() - 100_000
    _group_with_events(logs, "g", {"s": [(base + i, f"match {i}") for i in range(7)]})
    for head, expected in ((True, list(range(7))), (False, list(range(6, -1, -1)))):
        seen, token = [], None
        while True:
            kwargs = {"nextToken": token} if token else {"startFromHead": head}
            page = logs.filter_log_events(
                logGroupName="g", filterPattern="match", limit=3, **kwargs
            )
            seen += [int(e["message"].split()[1]) for e in page["events"]]
            token = page.get("nextToken")
            if not token:
                break
        assert seen == expected
    paginated = logs.get_paginator("filter_log_events").paginate(
        logGroupName="g", PaginationConfig={"PageSize": 2}
    )
    assert len([e for page in paginated for e in page["events"]]) == 7


APACHE = '127.0.0.1 - frank [10/Oct/2000:13:55:{:02d} -0700] "GET /{} HTTP/1.0" {} {}'


def test_filter_log_events_with_json_space_delimited_and_regex_patterns(logs):
    base = _now() - 100_000
    api = [
        json.dumps({"level": "ERROR" if i % 3 == 0 else "INFO", "latency": i * 100, "i": i})
        for i in range(12)
    ]
    web = [
        APACHE.format(i, "index.html" if i % 2 else "logo.gif", 500 if i % 4 == 0 else 200, i)
        for i in range(12)
    ]
    other = ["ERROR plain text", "user=bob;id=42 logged in", "user=eve;id=x logged in"]
    lines = [line for trio in zip(api, web, other * 4, strict=True) for line in trio]
    _group_with_events(
        logs,
        "g",
        {
            "s1": [(base + i, line) for i, line in enumerate(lines) if i % 2 == 0],
            "s2": [(base + i, line) for i, line in enumerate(lines) if i % 2 == 1],
        },
    )

    def paged(pattern: str, **kwargs) -> tuple[list[str], int]:
        messages, pages, token = [], 0, None
        while True:
            more = {"nextToken": token} if token else kwargs
            page = logs.filter_log_events(logGroupName="g", filterPattern=pattern, limit=2, **more)
            messages += [event["message"] for event in page["events"]]
            pages += 1
            token = page.get("nextToken")
            if not token:
                return messages, pages

    json_hits, pages = paged('{ $.level = "ERROR" && $.latency >= 300 }')
    assert json_hits == [api[3], api[6], api[9]] and pages >= 2
    newest, _ = paged('{ $.level = "ERROR" && $.latency >= 300 }', startFromHead=False)
    assert newest == [api[9], api[6], api[3]]

    web_hits, pages = paged(
        "[ip, user, username, timestamp, request = *.html*, status = 2*, bytes]"
    )
    assert web_hits == [web[i] for i in (1, 3, 5, 7, 9, 11)] and pages >= 3
    server_errors, pages = paged("[..., status >= 500, bytes]")
    assert server_errors == [web[0], web[4], web[8]] and pages >= 2

    regex_hits, pages = paged("%user=\\w+;id=\\d+%")
    assert regex_hits == ["user=bob;id=42 logged in"] * 4 and pages >= 2

    assert paged("%^ERROR%")[0] == ["ERROR plain text"] * 4
    paginator = logs.get_paginator("filter_log_events").paginate(
        logGroupName="g", filterPattern="{ $.i < 6 }", PaginationConfig={"PageSize": 2}
    )
    assert [e["message"] for page in paginator for e in page["events"]] == api[:6]


def test_filter_log_events_errors(logs, raw_logs):
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as error:
        logs.filter_log_events(logGroupName="missing")
    assert client_error(error) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
        400,
    )
    with pytest.raises(ClientError) as error:
        logs.filter_log_events(logGroupName="g", logStreamNames=["a"], logStreamNamePrefix="a")
    assert client_error(error)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        raw_logs.filter_log_events(logGroupName="g", limit=10_001)
    assert client_error(error)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        logs.filter_log_events(logGroupName="g", filterPattern='"unterminated')
    assert client_error(error)[0] == "InvalidParameterException"
    for pattern, message in (
        ("Status: timeout", "Invalid character(s) in term ':'"),
        ('{ $.level = "ERROR"', "If a filter pattern starts with '{' it must end with '}'"),
        ("[a, b = 4* && c > 1]", "Invalid filter pattern"),
        ("%(a|b)%", "Invalid character(s) in term '()'"),
    ):
        with pytest.raises(ClientError) as error:
            logs.filter_log_events(logGroupName="g", filterPattern=pattern)
        assert client_error(error) == ("InvalidParameterException", message, 400)


def _raw_post(functory, target: str, body: bytes = b"{}") -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{functory.url}/",
        data=body,
        method="POST",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                json.loads(response.read()),
            )
    except urllib.error.HTTPError as error:
        return (
            error.code,
            {k.lower(): v for k, v in error.headers.items()},
            json.loads(error.read()),
        )


def test_unknown_targets_and_unsigned_calls_are_refused(functory):
    status, headers, body = _raw_post(functory, "Logs_20140328.DeleteEverything")
    assert status == 400
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert body["__type"] == "UnknownOperationException"
    status, _, body = _raw_post(functory, "DynamoDB_20120810.ListTables")
    assert body["__type"] == "UnknownOperationException"
    status, headers, body = _raw_post(functory, "Logs_20140328.DescribeLogGroups")
    assert status == 403
    assert body == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }
    assert headers["content-type"] == "application/x-amz-json-1.1"


def test_the_console_home_page_still_answers_get(functory):
    with urllib.request.urlopen(f"{functory.url}/") as response:
        assert response.status == 200
        assert response.url.endswith("/login/?next=/")


def test_a_signature_for_another_service_is_refused(functory, credentials):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"{functory.url}/",
        data=b"{}",
        headers={
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key), "lambda", "us-east-1"
    ).add_auth(request)
    raw = urllib.request.Request(
        f"{functory.url}/", data=b"{}", method="POST", headers=dict(request.headers.items())
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(raw)
    assert error.value.code == 403
    assert json.loads(error.value.read())["__type"] == "InvalidSignatureException"
