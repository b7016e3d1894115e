"""Function output through the real AWS CLI and through what ``aws logs tail`` does.

awscli v1 (the one on PyPI) has no ``aws logs tail``; AWS CLI v2's ``tail --follow`` polls
FilterLogEvents with ``startTime`` set to the newest timestamp it has seen and drops events
whose ``eventId`` it already printed. :func:`_tail_follow_poll` does exactly that with boto3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import client_for, create_function, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

APP = """
def handler(event, context):
    print("ERROR widget", event["n"], "failed")
    print("INFO widget", event["n"], "fine")
    return event["n"]
"""
AWS = str(Path(sys.executable).with_name("aws"))


def _aws(functory, credentials, tmp_path, *args: str) -> dict:
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    result = subprocess.run(
        [AWS, "logs", *args, "--endpoint-url", functory.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_the_aws_cli_finds_a_functions_lines_by_pattern(functory, lam, credentials, tmp_path):
    create_function(lam, "clilogs", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.invoke(FunctionName="clilogs", Payload=b'{"n": 1}')
    lam.invoke(FunctionName="clilogs", Payload=b'{"n": 2}')

    def errors():
        found = _aws(
            functory,
            credentials,
            tmp_path,
            "filter-log-events",
            "--log-group-name",
            "/aws/lambda/clilogs",
            "--filter-pattern",
            "ERROR",
        )
        return [e["message"].strip() for e in found["events"]] if len(found["events"]) == 2 else []

    assert _wait_for(errors) == ["ERROR widget 1 failed", "ERROR widget 2 failed"]
    phrase = _aws(
        functory,
        credentials,
        tmp_path,
        "filter-log-events",
        "--log-group-name",
        "/aws/lambda/clilogs",
        "--filter-pattern",
        '"widget 2" ?INFO ?REPORT',
    )
    assert [e["message"].strip() for e in phrase["events"]] == ["INFO widget 2 fine"]

    groups = _aws(functory, credentials, tmp_path, "describe-log-groups")
    assert [g["logGroupName"] for g in groups["logGroups"]] == ["/aws/lambda/clilogs"]
    streams = _aws(
        functory,
        credentials,
        tmp_path,
        "describe-log-streams",
        "--log-group-name",
        "/aws/lambda/clilogs",
        "--order-by",
        "LastEventTime",
        "--descending",
    )
    stream = streams["logStreams"][0]["logStreamName"]
    events = _aws(
        functory,
        credentials,
        tmp_path,
        "get-log-events",
        "--log-group-name",
        "/aws/lambda/clilogs",
        "--log-stream-name",
        stream,
        "--start-from-head",
    )
    assert events["events"][0]["message"].startswith("START RequestId:")


def _tail_follow_poll(logs, group: str, state: dict) -> list[str]:
    """One polling round of AWS CLI v2's ``aws logs tail --follow``."""
    printed: list[str] = []
    kwargs = {"logGroupName": group, "startTime": state["start"], "interleaved": True}
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return printed  # the group appears with the function's first log line
        for event in page["events"]:
            if event["eventId"] in state["seen"]:
                continue
            state["seen"].add(event["eventId"])
            state["start"] = max(state["start"], event["timestamp"])
            printed.append(event["message"].strip())
        if "nextToken" not in page:
            return printed
        kwargs["nextToken"] = page["nextToken"]


def test_tail_follow_polling_shows_each_new_line_once(functory, lam, credentials):
    logs = client_for(functory, credentials, "logs")
    create_function(lam, "tailed", Code={"ZipFile": make_zip({"app.py": APP})})
    group = "/aws/lambda/tailed"
    state: dict = {"start": int(time.time() * 1000) - 60_000, "seen": set()}
    lam.invoke(FunctionName="tailed", Payload=b'{"n": 1}')
    first: list[str] = []
    _wait_for(
        lambda: (
            first.extend(_tail_follow_poll(logs, group, state))
            or any(line.startswith("REPORT") for line in first)
        )
    )
    assert "ERROR widget 1 failed" in first and "INFO widget 1 fine" in first

    # A poll with nothing new prints nothing, though startTime re-reads the last millisecond.
    assert _tail_follow_poll(logs, group, state) == []

    lam.invoke(FunctionName="tailed", Payload=b'{"n": 2}')
    second: list[str] = []
    _wait_for(
        lambda: (
            second.extend(_tail_follow_poll(logs, group, state))
            or any(line.startswith("REPORT") for line in second)
        )
    )
    assert second[0].startswith("START RequestId:")
    assert second[1:3] == ["ERROR widget 2 failed", "INFO widget 2 fine"]
    assert not any("widget 1" in line for line in second)


def test_logs_insights_through_the_aws_cli_reads_a_functions_reports(
    functory, lam, credentials, tmp_path
):
    create_function(lam, "insighted", Code={"ZipFile": make_zip({"app.py": APP})})
    for n in range(3):
        lam.invoke(FunctionName="insighted", Payload=json.dumps({"n": n}).encode())
    now = int(time.time())

    def query(text: str) -> list[dict[str, str]]:
        started = _aws(
            functory,
            credentials,
            tmp_path,
            "start-query",
            "--log-group-name",
            "/aws/lambda/insighted",
            "--start-time",
            str(now - 600),
            "--end-time",
            str(now + 60),
            "--query-string",
            text,
        )

        def finished():
            answer = _aws(
                functory,
                credentials,
                tmp_path,
                "get-query-results",
                "--query-id",
                started["queryId"],
            )
            return answer if answer["status"] == "Complete" else None

        answer = _wait_for(finished)
        assert answer, "the query never completed"
        return [{c["field"]: c["value"] for c in row} for row in answer["results"]]

    def reports() -> list[dict[str, str]]:
        rows = query(
            'filter @type = "REPORT" | stats count(*) as n, max(@memorySize) as memory, '
            "count(@duration) as timed"
        )
        return rows if rows and rows[0].get("n") == "3" else []

    rows = _wait_for(reports, timeout=20)
    assert rows == [{"n": "3", "memory": "128000000", "timed": "3"}]
    errors = query(
        'filter @message like "ERROR" | parse @message "widget * failed" as n | sort n asc '
        "| display n"
    )
    assert [row["n"] for row in errors] == ["0", "1", "2"]
