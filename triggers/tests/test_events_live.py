"""The EventBridge subset against a live server, through boto3 and the AWS CLI: the
scheduled-events tutorial end to end (its clock pushed forward, never waited for), rules
and targets as AWS answers them, PutEvents reaching a function, and two scheduler
processes racing over the same simulated hour without ever double-firing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ROOT,
    Credentials,
    LiveServer,
    client_error,
    client_for,
    create_function,
    make_zip,
)

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

AWS = str(Path(sys.executable).with_name("aws"))
APP = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
    return {"ok": True}
"""


def aws_cli(server: LiveServer, creds: Credentials, tmp_path: Path, *args: str) -> dict[str, Any]:
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    result = subprocess.run(
        [AWS, *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def fire_schedules_at(server: LiveServer, minutes_ahead: float) -> str:
    """One scheduler tick in another process with the clock ``minutes_ahead`` of now."""
    code = (
        "from datetime import datetime, timedelta, UTC\n"
        "from triggers.rules import scheduler\n"
        f"now = datetime.now(UTC) + timedelta(minutes={minutes_ahead})\n"
        "print(scheduler.schedules_fire(now=now))\n"
    )
    done = server.manage("shell", "-c", code)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def logged_events(logs: Any, name: str) -> list[dict[str, Any]]:
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="EVENT")
    except ClientError:
        return []
    return [
        json.loads(e["message"].split("EVENT ", 1)[1])
        for e in found["events"]
        if "EVENT " in e["message"]
    ]


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_the_scheduled_events_tutorial_with_the_cli(
    functory: LiveServer, lam: Any, credentials: Credentials, tmp_path: Path
) -> None:
    function = create_function(lam, "scheduled", Code={"ZipFile": make_zip({"app.py": APP})})
    rule = aws_cli(
        functory,
        credentials,
        tmp_path,
        "events",
        "put-rule",
        "--name",
        "my-scheduled-rule",
        "--schedule-expression",
        "rate(5 minutes)",
    )
    rule_arn = f"arn:aws:events:us-east-1:{credentials.account_id}:rule/my-scheduled-rule"
    assert rule["RuleArn"] == rule_arn
    aws_cli(
        functory,
        credentials,
        tmp_path,
        "lambda",
        "add-permission",
        "--function-name",
        "scheduled",
        "--statement-id",
        "my-scheduled-event",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "events.amazonaws.com",
        "--source-arn",
        rule_arn,
    )
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps([{"Id": "1", "Arn": function["FunctionArn"]}]))
    put = aws_cli(
        functory,
        credentials,
        tmp_path,
        "events",
        "put-targets",
        "--rule",
        "my-scheduled-rule",
        "--targets",
        f"file://{targets}",
    )
    assert put == {"FailedEntryCount": 0, "FailedEntries": []}
    described = aws_cli(
        functory, credentials, tmp_path, "events", "describe-rule", "--name", "my-scheduled-rule"
    )
    assert described["ScheduleExpression"] == "rate(5 minutes)"
    assert described["State"] == "ENABLED"
    assert described["EventBusName"] == "default"

    # Nothing is due yet; five minutes later the rule fires once.
    fire_schedules_at(functory, 4.5)
    fire_schedules_at(functory, 5.2)
    logs = client_for(functory, credentials, "logs")
    events = wait_for(lambda: logged_events(logs, "scheduled"))
    assert len(events) == 1
    (event,) = events
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert event["account"] == credentials.account_id


def test_rules_and_targets_as_aws_answers_them(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    events = client_for(functory, credentials, "events")
    raw = client_for(functory, credentials, "events", validate=False)
    function = create_function(lam, "target")
    for n in range(5):
        events.put_rule(Name=f"rule-{n}", ScheduleExpression="cron(0 12 ? * MON-FRI *)")
    events.put_rule(Name="other", EventPattern=json.dumps({"source": ["a"]}), State="DISABLED")

    page = events.list_rules(NamePrefix="rule-", Limit=2)
    names = [r["Name"] for r in page["Rules"]]
    while "NextToken" in page:
        page = events.list_rules(NamePrefix="rule-", Limit=2, NextToken=page["NextToken"])
        names += [r["Name"] for r in page["Rules"]]
    assert names == [f"rule-{n}" for n in range(5)]

    events.disable_rule(Name="rule-0")
    assert events.describe_rule(Name="rule-0")["State"] == "DISABLED"
    events.enable_rule(Name="rule-0")
    assert events.describe_rule(Name="rule-0")["State"] == "ENABLED"

    events.put_targets(
        Rule="rule-0",
        Targets=[
            {
                "Id": "t",
                "Arn": function["FunctionArn"],
                "InputTransformer": {
                    "InputPathsMap": {"t": "$.time"},
                    "InputTemplate": '{"at": <t>}',
                },
            }
        ],
    )
    (target,) = events.list_targets_by_rule(Rule="rule-0")["Targets"]
    assert target["Id"] == "t" and target["InputTransformer"]["InputTemplate"] == '{"at": <t>}'

    with pytest.raises(ClientError) as refused:
        events.delete_rule(Name="rule-0")
    assert client_error(refused) == (
        "ValidationException",
        "Rule can't be deleted since it has targets.",
        400,
    )
    events.remove_targets(Rule="rule-0", Ids=["t"])
    events.delete_rule(Name="rule-0")
    events.delete_rule(Name="rule-0")  # gone already: no error, as on AWS

    with pytest.raises(ClientError) as missing:
        events.describe_rule(Name="rule-0")
    assert client_error(missing) == (
        "ResourceNotFoundException",
        "Rule rule-0 does not exist on EventBus default.",
        400,
    )
    with pytest.raises(ClientError) as bad_schedule:
        events.put_rule(Name="bad", ScheduleExpression="rate(1 minutes)")
    assert client_error(bad_schedule) == (
        "ValidationException",
        "Parameter ScheduleExpression is not valid.",
        400,
    )
    with pytest.raises(ClientError) as bad_cron:
        events.put_rule(Name="bad", ScheduleExpression="cron(0 12 * * * *)")
    assert client_error(bad_cron)[0] == "ValidationException"
    with pytest.raises(ClientError) as bad_name:
        raw.put_rule(Name="x" * 65, ScheduleExpression="rate(1 day)")
    code, message, _ = client_error(bad_name)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '" + "x" * 65 + "' at 'name'")
    with pytest.raises(ClientError) as bad_pattern:
        events.put_rule(Name="bad", EventPattern='{"source": "a"}')
    assert client_error(bad_pattern)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as neither:
        events.put_rule(Name="bad")
    assert client_error(neither)[0] == "ValidationException"
    with pytest.raises(ClientError) as huge:
        raw.put_rule(Name="huge", EventPattern=json.dumps({"source": ["a" * 5000]}))
    assert client_error(huge)[0] == "ValidationException"


def test_put_events_reaches_the_functions_of_matching_rules(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    create_function(lam, "orders", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.add_permission(
        FunctionName="orders",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
    )
    events = client_for(functory, credentials, "events")
    events.put_rule(
        Name="big-orders",
        EventPattern=json.dumps(
            {"source": ["shop"], "detail": {"total": [{"numeric": [">=", 100]}]}}
        ),
    )
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:orders"
    events.put_targets(
        Rule="big-orders",
        Targets=[
            {
                "Id": "1",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"total": "$.detail.total"},
                    "InputTemplate": '{"message": "total <total>", "total": <total>}',
                },
            }
        ],
    )
    answer = events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"total": 250})},
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"total": 5})},
            {"Source": "shop", "DetailType": "Order", "Detail": "{not json"},
        ]
    )
    assert answer["FailedEntryCount"] == 1
    assert "EventId" in answer["Entries"][0] and "EventId" in answer["Entries"][1]
    assert answer["Entries"][2]["ErrorCode"] == "MalformedDetail"
    tested = events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"total": [{"numeric": [">=", 100]}]}}),
        Event=json.dumps({"id": "1", "source": "shop", "detail": {"total": 99}}),
    )
    assert tested == {"Result": False} | {"ResponseMetadata": tested["ResponseMetadata"]}
    logs = client_for(functory, credentials, "logs")
    got = wait_for(lambda: logged_events(logs, "orders"))
    assert got == [{"message": "total 250", "total": 250}]


RACER = """
import pathlib, sys, time
import django
django.setup()
from datetime import datetime, timedelta, UTC
from triggers.rules import scheduler
start = datetime.fromisoformat(sys.argv[1])
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
fired = 0
for tick in range(180):
    fired += scheduler.schedules_fire(now=start + timedelta(seconds=20 * tick))
print(fired)
"""


def test_two_scheduler_processes_never_fire_an_occurrence_twice(
    functory: LiveServer, lam: Any, credentials: Credentials, tmp_path: Path
) -> None:
    events = client_for(functory, credentials, "events")
    # Rules without targets: the race is over the claim, not the functions' work.
    events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    events.put_rule(Name="five", ScheduleExpression="cron(0/5 * * * ? *)")
    go = tmp_path / "go"
    # A simulated hour starting tomorrow: the server's own beat (real clock) may fire the
    # rules' first occurrences meanwhile, which the racers then do not count.
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, start, str(go)],
            env=functory.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both import Django before the start signal (no timing is asserted)
    go.write_text("go")
    outputs = [racer.communicate(timeout=300) for racer in racers]
    for racer, (_, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
    total = sum(int(out.strip().splitlines()[-1]) for out, _ in outputs)
    check = textwrap.dedent(
        f"""
        from collections import Counter
        from triggers.models import ScheduledFiring
        # Every firing the racers made (they fire all accounts' due rules), and this one's.
        rows = list(ScheduledFiring.objects.filter(fired_at__gte="{start}").select_related("rule"))
        per = Counter((r.rule_id, r.scheduled_for.isoformat()) for r in rows)
        print("COUNTS", len(per), sum(per.values()), max(per.values()))
        mine = [r for r in rows if r.rule.account_id == "{credentials.account_id}"]
        print("MINE", len(mine))
        print("RULES", " ".join(sorted(set(r.rule.name for r in mine))))
        """
    )
    done = functory.manage("shell", "-c", check)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    distinct, rows, most = (int(x) for x in lines["COUNTS"].split())
    names = lines["RULES"]
    mine = int(lines["MINE"])
    assert most == 1  # no occurrence twice
    assert distinct == rows == total
    assert names == "every-minute five"
    # An hour of simulated time: the latest occurrence of each rule at the first tick, then
    # 59-60 one-minute and 11-12 five-minute ones (the edges depend on the start second).
    assert 71 <= mine <= 74


def test_hostile_input_is_refused_cheaply_with_aws_errors(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    events = client_for(functory, credentials, "events")
    raw = client_for(functory, credentials, "events", validate=False)
    create_function(lam, "victim")
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:victim"
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))

    # A hundred targets (the model's most) on a rule that takes five.
    with pytest.raises(ClientError) as many:
        events.put_targets(Rule="r", Targets=[{"Id": f"t{n}", "Arn": arn} for n in range(100)])
    assert client_error(many)[0] == "LimitExceededException"
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []

    # A pattern nested far deeper than any real one, within the 4096-character limit.
    deep = '{"a":' * 600 + '["x"]' + "}" * 600
    with pytest.raises(ClientError) as nested:
        events.put_rule(Name="deep", EventPattern=deep)
    assert client_error(nested)[0] == "InvalidEventPatternException"

    # A pattern of pathological wildcards is refused or matches quickly, never hangs.
    wild = json.dumps({"source": [{"wildcard": "*a" * 1000}]})
    try:
        events.put_rule(Name="wild", EventPattern=wild)
    except ClientError as error:
        assert error.response["Error"]["Code"] in {
            "InvalidEventPatternException",
            "ValidationException",
        }
    answer = events.put_events(
        Entries=[{"Source": "a" * 200 + "b", "DetailType": "d", "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 0

    # Detail nested 100,000 deep: a malformed entry, not a failed call.
    body = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"
    answer = raw.put_events(Entries=[{"Source": "x", "DetailType": "d", "Detail": body}])
    assert answer["Entries"] == [
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    ]

    # Over 256 KB of entries in one request.
    big = json.dumps({"pad": "p" * 100_000})
    with pytest.raises(ClientError) as too_big:
        raw.put_events(Entries=[{"Source": "x", "DetailType": "d", "Detail": big}] * 3)
    assert client_error(too_big)[:2] == (
        "ValidationException",
        "Total size of the entries in the request is over the limit.",
    )

    # More entries than the model allows.
    with pytest.raises(ClientError) as eleven:
        raw.put_events(Entries=[{"Source": "x", "DetailType": "d", "Detail": "{}"}] * 11)
    assert client_error(eleven)[0] == "ValidationException"


def test_the_servers_own_beat_fires_a_due_rule(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    """The scheduler runs in the embedded worker's beat: a rule made due (its owed
    occurrence moved into the past, instead of waiting for it) fires within a few ticks."""
    create_function(lam, "beaten", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.add_permission(
        FunctionName="beaten",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
    )
    events = client_for(functory, credentials, "events")
    events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")
    events.put_targets(
        Rule="hourly",
        Targets=[
            {"Id": "1", "Arn": f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:beaten"}
        ],
    )
    code = textwrap.dedent(
        f"""
        from datetime import timedelta
        from triggers.models import Rule
        rule = Rule.objects.get(account_id="{credentials.account_id}", name="hourly")
        # As if the rule had been made an hour ago: its first occurrence is due now.
        rule.schedule_anchor -= timedelta(hours=1)
        rule.next_fire_at -= timedelta(hours=1)
        rule.save()
        """
    )
    done = functory.manage("shell", "-c", code)
    assert done.returncode == 0, done.stderr
    logs = client_for(functory, credentials, "logs")
    got = wait_for(lambda: logged_events(logs, "beaten"), timeout=60)
    assert [event["detail-type"] for event in got] == ["Scheduled Event"]
