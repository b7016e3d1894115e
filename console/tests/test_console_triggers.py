"""The console's Triggers endpoints: event source mappings made, disabled, enabled and
deleted through the API's services (and refused in the API's words, next to the field);
EventBridge triggers made as AWS's console makes them (rule, target, permission) and taken
apart again; another account's function, mapping or rule is a 404."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import ROLE, make_zip
from functions import arns, resource_policies, selectors
from functions.models import Function, PolicyStatement
from functions.services import functions as function_services
from functions.services import policies
from iam import services
from iam.models import User
from triggers.models import EventSourceMapping, Rule, Target
from triggers.rules import permissions
from triggers.rules import services as rule_services

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"
BASE = "/functions/fn/triggers"
QUEUE = "arn:aws:sqs:us-east-1:111111111111:orders"
STREAM = "arn:aws:kinesis:us-east-1:111111111111:stream/clicks"
# The operator's registry: the mapping's broker (by name) is one this platform may read.
BROKERS = '{"rabbit": {"engine": "rabbitmq", "url": "amqp://guest:guest@127.0.0.1:5672/"}}'
BROKER = "arn:aws:mq:us-east-1:111111111111:broker:rabbit:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9"
SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:rabbit-creds"


def _user(account_id: str, username: str) -> User:
    account = services.account_get_or_create(account_id)
    return services.user_create(
        username=username, account=account, password=PASSWORD, is_admin=True
    )


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _function(user: User, name: str = "fn") -> Function:
    zipped = base64.b64encode(make_zip()).decode()
    function_services.function_create(
        account=user.account,
        name=name,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": zipped},
        },
    )
    return selectors.function_get_for_account(user.account, name)


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json")


def _error(answer: Any) -> tuple[int, str, str, str | None]:
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"], error["field"]


@pytest.fixture
def owner() -> User:
    return _user("111111111111", "owner")


@pytest.fixture
def stranger() -> User:
    return _user("222222222222", "stranger")


# --- event source mappings ----------------------------------------------------------------


def test_an_sqs_mapping_is_made_with_metrics_on_by_default_and_the_forms_settings(
    owner: User,
) -> None:
    function = _function(owner)
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/mappings",
        {
            "EventSourceArn": QUEUE,
            "BatchSize": 50,
            "MaximumBatchingWindowInSeconds": 5,
            "FilterPattern": '{"body": {"kind": ["order"]}}',
            "ReportBatchItemFailures": True,
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    mapping = body["Mapping"]
    assert mapping["State"] == "Creating"
    assert mapping["EventSourceArn"] == QUEUE
    assert mapping["BatchSize"] == 50
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    assert mapping["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}
    assert mapping["FunctionArn"] == arns.function_arn("111111111111", "fn")
    assert [m["UUID"] for m in body["EventSourceMappings"]] == [mapping["UUID"]]
    stored = EventSourceMapping.objects.get(function=function)
    assert str(stored.uuid) == mapping["UUID"]
    assert stored.metrics_config == {"Metrics": ["EventCount"]}


def test_metrics_can_be_left_off_and_the_mapping_created_disabled(owner: User) -> None:
    _function(owner)
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/mappings",
        {"EventSourceArn": QUEUE, "MetricsEnabled": False, "Enabled": False},
    )
    assert answer.status_code == 201, answer.content
    assert "MetricsConfig" not in answer.json()["Mapping"]
    assert EventSourceMapping.objects.get().enabled is False


def test_a_kinesis_mapping_takes_its_starting_position(owner: User) -> None:
    _function(owner)
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/mappings",
        {"EventSourceArn": STREAM, "StartingPosition": "TRIM_HORIZON", "BatchSize": 200},
    )
    assert answer.status_code == 201, answer.content
    mapping = answer.json()["Mapping"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 200
    assert mapping["LastProcessingResult"] == "No records processed"


def test_a_rabbitmq_mapping_takes_its_queue_and_secret(owner: User, settings: Any) -> None:
    settings.FUNCTORY_MQ_BROKERS = BROKERS
    _function(owner)
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/mappings",
        {"EventSourceArn": BROKER, "Queues": ["jobs"], "BasicAuthSecretArn": SECRET},
    )
    assert answer.status_code == 201, answer.content
    mapping = answer.json()["Mapping"]
    assert mapping["Queues"] == ["jobs"]
    assert mapping["SourceAccessConfigurations"] == [{"Type": "BASIC_AUTH", "URI": SECRET}]


@pytest.mark.parametrize(
    ("body", "code", "text", "field"),
    [
        (
            {"EventSourceArn": QUEUE, "BatchSize": 20},
            "InvalidParameterValueException",
            "Maximum batch window in seconds must be greater than 0",
            "maximumBatchingWindowInSeconds",
        ),
        (
            {"EventSourceArn": QUEUE + ".fifo", "BatchSize": 11},
            "InvalidParameterValueException",
            "BatchSize must be between 1 and 10 for a FIFO queue.",
            "batchSize",
        ),
        (
            {"EventSourceArn": QUEUE, "BatchSize": 20000},
            "ValidationException",
            "at 'batchSize' failed to satisfy constraint",
            "batchSize",
        ),
        (
            {"EventSourceArn": STREAM},
            "InvalidParameterValueException",
            "Value null at 'startingPosition' failed to satisfy constraint",
            "startingPosition",
        ),
        (
            {"EventSourceArn": QUEUE, "StartingPosition": "LATEST"},
            "InvalidParameterValueException",
            "StartingPosition is not valid for SQS event sources.",
            "startingPosition",
        ),
        (
            {"EventSourceArn": QUEUE, "FilterPattern": '{"body": "not a list"}'},
            "InvalidParameterValueException",
            "Invalid filter pattern definition.",
            "filterCriteria",
        ),
        (
            {"EventSourceArn": "arn:aws:s3:::bucket"},
            "InvalidParameterValueException",
            "Unrecognized event source.",
            "eventSourceArn",
        ),
        (
            {"EventSourceArn": BROKER, "Queues": ["jobs"]},
            "InvalidParameterValueException",
            "Required 'BASIC_AUTH' source access configuration is missing.",
            "sourceAccessConfigurations",
        ),
        (
            {"EventSourceArn": QUEUE, "BatchSize": "ten"},
            "InvalidParameterValueException",
            "A valid integer is required.",
            "batchSize",
        ),
        ({}, "InvalidParameterValueException", "This field is required.", "eventSourceArn"),
        (
            {"EventSourceArn": ""},
            "ValidationException",
            "at 'eventSourceArn' failed to satisfy constraint",
            "eventSourceArn",
        ),
        (
            {"EventSourceArn": BROKER, "Queues": ["a", "b"], "BasicAuthSecretArn": SECRET},
            "ValidationException",
            "at 'queues' failed to satisfy constraint",
            "queues",
        ),
        (
            {"EventSourceArn": BROKER, "Queues": ["jobs"], "BasicAuthSecretArn": "bad$secret"},
            "ValidationException",
            "failed to satisfy constraint",
            "sourceAccessConfigurations",
        ),
        (
            {"EventSourceArn": QUEUE, "FilterPattern": "x" * 4097},
            "ValidationException",
            "failed to satisfy constraint",
            "filterCriteria",
        ),
    ],
)
def test_a_bad_mapping_is_refused_in_the_apis_words_next_to_its_field(
    owner: User, body: dict[str, Any], code: str, text: str, field: str
) -> None:
    _function(owner)
    status, got_code, message, got_field = _error(
        _send(_client(owner), "post", f"{BASE}/mappings", body)
    )
    assert (status, got_code, got_field) == (400, code, field)
    assert text in message
    assert not EventSourceMapping.objects.exists()


def test_a_second_mapping_of_the_same_queue_is_the_apis_conflict(owner: User) -> None:
    _function(owner)
    client = _client(owner)
    first = _send(client, "post", f"{BASE}/mappings", {"EventSourceArn": QUEUE}).json()
    status, code, message, field = _error(
        _send(client, "post", f"{BASE}/mappings", {"EventSourceArn": QUEUE})
    )
    assert (status, code, field) == (409, "ResourceConflictException", "eventSourceArn")
    assert first["Mapping"]["UUID"] in message


def test_a_mapping_is_disabled_enabled_and_deleted_and_settles(
    owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    _function(owner)
    client = _client(owner)
    with django_capture_on_commit_callbacks(execute=True):
        made = _send(client, "post", f"{BASE}/mappings", {"EventSourceArn": QUEUE}).json()
    uuid = made["Mapping"]["UUID"]
    listed = client.get(BASE).json()
    assert [m["State"] for m in listed["EventSourceMappings"]] == ["Enabled"]

    with django_capture_on_commit_callbacks(execute=True):
        off = _send(client, "put", f"{BASE}/mappings/{uuid}", {"Enabled": False})
    assert off.status_code == 200, off.content
    assert off.json()["Mapping"]["State"] == "Disabling"
    assert [m["State"] for m in client.get(BASE).json()["EventSourceMappings"]] == ["Disabled"]

    with django_capture_on_commit_callbacks(execute=True):
        on = _send(client, "put", f"{BASE}/mappings/{uuid}", {"Enabled": True})
    assert on.json()["Mapping"]["State"] == "Enabling"
    assert [m["State"] for m in client.get(BASE).json()["EventSourceMappings"]] == ["Enabled"]

    with django_capture_on_commit_callbacks(execute=True):
        gone = _send(client, "delete", f"{BASE}/mappings/{uuid}")
    assert gone.status_code == 200, gone.content
    assert gone.json()["Mapping"]["State"] == "Deleting"
    assert client.get(BASE).json()["EventSourceMappings"] == []
    assert not EventSourceMapping.objects.exists()


def test_a_mapping_of_another_function_is_not_reachable_through_this_one(owner: User) -> None:
    _function(owner)
    _function(owner, "other")
    client = _client(owner)
    other = _send(client, "post", "/functions/other/triggers/mappings", {"EventSourceArn": QUEUE})
    uuid = other.json()["Mapping"]["UUID"]
    for method, body in (("put", {"Enabled": False}), ("delete", None)):
        status, code, _message, _field = _error(
            _send(client, method, f"{BASE}/mappings/{uuid}", body)
        )
        assert (status, code) == (404, "ResourceNotFoundException")
    assert EventSourceMapping.objects.get().enabled is True
    assert client.get(BASE).json()["EventSourceMappings"] == []


def test_a_malformed_mapping_uuid_is_a_404(owner: User) -> None:
    _function(owner)
    answer = _send(_client(owner), "put", f"{BASE}/mappings/not-a-uuid", {"Enabled": True})
    assert answer.status_code == 404


# --- EventBridge rules --------------------------------------------------------------------


def _rule_statements(function: Function) -> list[dict[str, Any]]:
    return [row.statement for row in PolicyStatement.objects.filter(function=function)]


def test_a_schedule_trigger_makes_the_rule_its_target_and_the_permission(owner: User) -> None:
    function = _function(owner)
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/rules",
        {"Name": "every-5", "ScheduleExpression": "rate(5 minutes)", "Description": "tick"},
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    rule_arn = "arn:aws:events:us-east-1:111111111111:rule/every-5"
    function_arn = arns.function_arn("111111111111", "fn")
    assert body["Rule"]["Arn"] == rule_arn
    assert body["Rule"]["State"] == "ENABLED"
    assert body["Rule"]["TargetArns"] == [function_arn]
    assert body["Rule"]["NextFireAt"] is not None
    assert body["PolicyChanges"] == [
        {"Sid": "events-every-5", "Action": "lambda:InvokeFunction", "Added": True}
    ]
    assert [r["Name"] for r in body["Rules"]] == ["every-5"]
    rule = Rule.objects.get(account=owner.account, name="every-5")
    assert rule.schedule_expression == "rate(5 minutes)"
    assert [(t.target_id, t.arn) for t in rule.targets.all()] == [("fn", function_arn)]
    statements = _rule_statements(function)
    assert statements == [
        {
            "Sid": "events-every-5",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": function_arn,
            "Condition": {"ArnLike": {"AWS:SourceArn": rule_arn}},
        }
    ]
    assert permissions.events_may_invoke(
        resource_policies.statements_policy(statements, "function|fn"),
        function_arn=function_arn,
        rule_arn=rule_arn,
        rule_account="111111111111",
    )


def test_an_event_pattern_trigger_is_made_disabled_when_asked(owner: User) -> None:
    _function(owner)
    pattern = '{"source": ["my.app"]}'
    answer = _send(
        _client(owner),
        "post",
        f"{BASE}/rules",
        {"Name": "orders", "EventPattern": pattern, "Enabled": False},
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["Rule"]["EventPattern"] == pattern
    assert answer.json()["Rule"]["State"] == "DISABLED"


def test_a_policy_that_already_allows_the_rule_gets_no_second_statement(owner: User) -> None:
    function = _function(owner)
    client = _client(owner)
    hourly = {"Name": "a", "ScheduleExpression": "rate(1 hour)"}
    _send(client, "post", f"{BASE}/rules", hourly)
    _send(client, "delete", f"{BASE}/rules/a")
    resolved = selectors.function_resolve(owner.account, "fn")
    policies.permission_add(
        resolved=resolved,
        params={
            "StatementId": "mine",
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": "arn:aws:events:us-east-1:111111111111:rule/*",
        },
    )
    answer = _send(client, "post", f"{BASE}/rules", hourly)
    assert answer.json()["PolicyChanges"] == []
    assert [s["Sid"] for s in _rule_statements(function)] == ["mine"]


@pytest.mark.parametrize(
    ("body", "code", "text", "field"),
    [
        (
            {"Name": "r", "ScheduleExpression": "rate(0 minutes)"},
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
            "scheduleExpression",
        ),
        (
            {"Name": "r", "ScheduleExpression": "cron(0 12 * * * *)"},
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
            "scheduleExpression",
        ),
        (
            {"Name": "r", "EventPattern": '{"source": "not-a-list"}'},
            "InvalidEventPatternException",
            "Event pattern is not valid.",
            "eventPattern",
        ),
        (
            {"Name": "r"},
            "ValidationException",
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            "eventPattern",
        ),
        (
            {"Name": "bad name!", "ScheduleExpression": "rate(1 day)"},
            "ValidationException",
            "at 'name' failed to satisfy constraint",
            "name",
        ),
        ({"ScheduleExpression": "rate(1 day)"}, None, "This field is required.", "name"),
        (
            {"Name": "n" * 65, "ScheduleExpression": "rate(1 day)"},
            "ValidationException",
            "at 'name' failed to satisfy constraint",
            "name",
        ),
        (
            {"Name": "r", "ScheduleExpression": "rate(1 day)", "Description": "d" * 513},
            "ValidationException",
            "at 'description' failed to satisfy constraint",
            "description",
        ),
    ],
)
def test_a_bad_rule_is_refused_in_eventbridges_words_next_to_its_field(
    owner: User, body: dict[str, Any], code: str | None, text: str, field: str
) -> None:
    function = _function(owner)
    status, got_code, message, got_field = _error(
        _send(_client(owner), "post", f"{BASE}/rules", body)
    )
    assert status == 400
    assert got_field == field
    if code is not None:
        assert got_code == code
    assert text in message
    assert not Rule.objects.exists()
    assert _rule_statements(function) == []


def test_a_rule_name_in_use_is_refused_and_the_rule_left_as_it_was(owner: User) -> None:
    function = _function(owner)
    rule_services.rule_put(
        owner.account,
        rule_services.RuleInput("nightly", "cron(0 2 * * ? *)", "", "ENABLED", "", ""),
    )
    status, code, message, field = _error(
        _send(
            _client(owner),
            "post",
            f"{BASE}/rules",
            {"Name": "nightly", "ScheduleExpression": "rate(1 minute)"},
        )
    )
    assert (status, code, field) == (400, "ResourceAlreadyExistsException", "name")
    assert message == "Rule nightly already exists on EventBus default."
    assert Rule.objects.get(name="nightly").schedule_expression == "cron(0 2 * * ? *)"
    assert not Target.objects.exists()
    assert _rule_statements(function) == []


def test_a_rule_is_disabled_enabled_and_removed_with_its_permission(owner: User) -> None:
    function = _function(owner)
    client = _client(owner)
    _send(client, "post", f"{BASE}/rules", {"Name": "tick", "ScheduleExpression": "rate(1 hour)"})
    off = _send(client, "put", f"{BASE}/rules/tick", {"Enabled": False})
    assert off.status_code == 200, off.content
    assert off.json()["Rule"]["State"] == "DISABLED"
    assert off.json()["Rule"]["NextFireAt"] is None
    on = _send(client, "put", f"{BASE}/rules/tick", {"Enabled": True})
    assert on.json()["Rule"]["State"] == "ENABLED"
    assert on.json()["Rules"][0]["NextFireAt"] is not None

    gone = _send(client, "delete", f"{BASE}/rules/tick")
    assert gone.status_code == 200, gone.content
    assert gone.json()["Rule"] is None
    assert gone.json()["Rules"] == []
    assert gone.json()["PolicyChanges"] == [
        {"Sid": "events-tick", "Action": "lambda:InvokeFunction", "Added": False}
    ]
    assert not Rule.objects.exists()
    assert _rule_statements(function) == []


def test_removing_the_trigger_keeps_a_rule_that_still_invokes_something_else(
    owner: User,
) -> None:
    _function(owner)
    _function(owner, "other")
    client = _client(owner)
    _send(client, "post", f"{BASE}/rules", {"Name": "shared", "ScheduleExpression": "rate(1 day)"})
    other_arn = arns.function_arn("111111111111", "other")
    rule_services.targets_put(owner.account, "shared", None, [{"Id": "other", "Arn": other_arn}])
    answer = _send(client, "delete", f"{BASE}/rules/shared")
    assert answer.status_code == 200, answer.content
    rule = Rule.objects.get(name="shared")
    assert [t.arn for t in rule.targets.all()] == [other_arn]
    assert [r["Name"] for r in client.get("/functions/other/triggers").json()["Rules"]] == [
        "shared"
    ]


def test_a_rule_that_does_not_target_the_function_is_a_404(owner: User) -> None:
    _function(owner)
    rule_services.rule_put(
        owner.account, rule_services.RuleInput("elsewhere", "rate(1 day)", "", "ENABLED", "", "")
    )
    client = _client(owner)
    for method, body in (("put", {"Enabled": False}), ("delete", None)):
        status, code, message, _field = _error(
            _send(client, method, f"{BASE}/rules/elsewhere", body)
        )
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message == "Rule elsewhere does not exist on EventBus default."
    assert Rule.objects.get(name="elsewhere").state == "ENABLED"


# --- the panel, other accounts, CSRF ------------------------------------------------------


def test_the_panel_lists_urls_mappings_and_rules_and_the_page_shows_them(owner: User) -> None:
    _function(owner)
    client = _client(owner)
    _send(client, "post", "/functions/fn/configuration/urls", {"AuthType": "AWS_IAM"})
    _send(client, "post", f"{BASE}/mappings", {"EventSourceArn": QUEUE})
    _send(client, "post", f"{BASE}/rules", {"Name": "tick", "ScheduleExpression": "rate(1 hour)"})
    listed = client.get(BASE).json()
    assert [u["Qualifier"] for u in listed["Urls"]] == ["$LATEST"]
    assert [m["EventSourceArn"] for m in listed["EventSourceMappings"]] == [QUEUE]
    assert [r["Name"] for r in listed["Rules"]] == ["tick"]

    html = client.get("/functions/fn/").content.decode()
    overview = html.split("data-overview-triggers", 1)[1].split("</dd>", 1)[0]
    assert "Function URL ($LATEST)" in overview
    assert "SQS: orders" in overview
    assert "EventBridge: tick" in overview
    state = json.loads(
        html.split('<script id="triggers-state" type="application/json">', 1)[1].split(
            "</script>", 1
        )[0]
    )
    assert state["function"] == "fn"
    assert [m["EventSourceArn"] for m in state["EventSourceMappings"]] == [QUEUE]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/functions/theirs/triggers", None),
        ("post", "/functions/theirs/triggers/mappings", {"EventSourceArn": QUEUE}),
        (
            "post",
            "/functions/theirs/triggers/rules",
            {"Name": "x", "ScheduleExpression": "rate(1d)"},
        ),
        ("put", "/functions/theirs/triggers/rules/tick", {"Enabled": False}),
        ("delete", "/functions/theirs/triggers/rules/tick", None),
    ],
)
def test_another_accounts_function_is_a_404(
    owner: User, stranger: User, method: str, url: str, body: dict[str, Any] | None
) -> None:
    _function(owner, "theirs")
    _send(
        _client(owner),
        "post",
        "/functions/theirs/triggers/rules",
        {"Name": "tick", "ScheduleExpression": "rate(1 hour)"},
    )
    answer = _send(_client(stranger), method, url, body)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ResourceNotFoundException"
    assert not EventSourceMapping.objects.exists()
    assert Rule.objects.get().state == "ENABLED"
    assert Rule.objects.count() == 1


def test_another_accounts_mapping_is_a_404_even_through_a_function_of_the_same_name(
    owner: User, stranger: User
) -> None:
    _function(owner)
    _function(stranger)
    made = _send(_client(owner), "post", f"{BASE}/mappings", {"EventSourceArn": QUEUE})
    uuid = made.json()["Mapping"]["UUID"]
    answer = _send(_client(stranger), "delete", f"{BASE}/mappings/{uuid}")
    assert answer.status_code == 404
    assert EventSourceMapping.objects.get().state == "Creating"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", f"{BASE}/mappings", {"EventSourceArn": QUEUE}),
        ("post", f"{BASE}/rules", {"Name": "x", "ScheduleExpression": "rate(1 day)"}),
    ],
)
def test_a_change_without_the_csrf_token_is_refused(
    owner: User, method: str, url: str, body: dict[str, Any]
) -> None:
    _function(owner)
    answer = _send(_client(owner, csrf=True), method, url, body)
    assert answer.status_code == 403
    assert not EventSourceMapping.objects.exists()
    assert not Rule.objects.exists()
