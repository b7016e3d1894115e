"""Console enforcement of IAM policies: a read-only user (AWSLambda_ReadOnlyAccess) sees the
function list, the function page, its logs and metrics, is refused every change with AWS's
AccessDenied message (and nothing changes), and sees the controls they cannot use disabled
with the reason; a full-access user and the account's admin see them enabled and act."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from django.test import Client

from conftest import ROLE, make_zip
from console.blueprints import all_blueprints
from functions import selectors
from functions.models import Function, LayerVersion, TestEvent
from functions.services import aliases as alias_services
from functions.services import concurrency as concurrency_services
from functions.services import function_urls as url_services
from functions.services import functions as function_services
from functions.services import layers as layer_services
from functions.services import policies, saved_events
from iam import entities, services
from iam.models import User
from triggers.models import EventSourceMapping, Rule

pytestmark = pytest.mark.django_db

ACCOUNT = "111111111111"
PASSWORD = "pw-1234567890-perm"
READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
FULL_ACCESS = "arn:aws:iam::aws:policy/AWSLambda_FullAccess"
CODE: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return event\n"}


def _user(name: str, *, policy: str | None = None, admin: bool = False) -> User:
    account = services.account_get_or_create(ACCOUNT)
    user = services.user_create(username=name, account=account, password=PASSWORD, is_admin=admin)
    if policy is not None:
        entities.attach(user, policy)
    return user


def _client(user: User) -> Client:
    client = Client()
    # The console's sign-in takes "<account id>/<user name>".
    assert client.login(username=f"{user.account_id}/{user.username}", password=PASSWORD)
    return client


@pytest.fixture
def fn() -> Function:
    """A function with one of everything the write endpoints change or delete."""
    account = services.account_get_or_create(ACCOUNT)
    function_services.function_create(
        account=account,
        name="fn",
        params={
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": base64.b64encode(make_zip(CODE)).decode()},
            "Tags": {"team": "core"},
        },
    )
    function = Function.objects.get(account=account, name="fn")
    alias_services.alias_create(
        function=function, params={"Name": "live", "FunctionVersion": "$LATEST"}
    )
    policies.permission_add(
        resolved=selectors.function_resolve(account, "fn", follow_alias=False),
        params={
            "StatementId": "keep",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
        },
    )
    concurrency_services.concurrency_put(function=function, reserved=3)
    url_services.function_url_config_create(
        target=selectors.url_target(account, "fn", "live", missing=selectors.FUNCTION_MISSING),
        params={"AuthType": "AWS_IAM"},
    )
    owner = _user("owner", admin=True)
    saved_events.test_event_create(
        user=owner, function=function, name="ours", payload={}, shared=True
    )
    layer_services.layer_version_publish(
        account=account,
        layer_name="lib",
        params={"Content": {"ZipFile": base64.b64encode(make_zip({"python/x.py": ""})).decode()}},
    )
    return function


def _snapshot(function: Function) -> dict[str, Any]:
    """Everything a console write could change."""
    function.refresh_from_db()
    latest = selectors.latest_version(function)
    return {
        "revision": latest.revision_id,
        "code": latest.code_sha256,
        "memory": latest.memory_size,
        "environment": dict(latest.environment),
        "tags": dict(function.tags),
        "reserved": function.reserved_concurrency,
        "versions": function.versions.count(),
        "aliases": sorted(function.aliases.values_list("name", "function_version")),
        "statements": sorted(function.statements.values_list("sid", flat=True)),
        "urls": sorted(function.url_configs.values_list("qualifier", "auth_type")),
        "events": TestEvent.objects.filter(function=function).count(),
        "mappings": EventSourceMapping.objects.count(),
        "rules": Rule.objects.count(),
        "layers": LayerVersion.objects.count(),
        "functions": Function.objects.count(),
        "async": selectors.event_invoke_settings_latest(function),
    }


def _send(client: Client, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body) if body is not None else None
    return client.generic(method, url, data or "", content_type="application/json")


# (method, URL, body, the IAM action AWS's message names)
WRITES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("DELETE", "/_console/functions/fn", None, "lambda:DeleteFunction"),
    ("POST", "/functions/fn/configuration/tags", {"Tags": {}}, "lambda:UntagResource"),
    (
        "POST",
        "/functions/fn/configuration/concurrency",
        {"ReservedConcurrentExecutions": None},
        "lambda:DeleteFunctionConcurrency",
    ),
    (
        "PUT",
        "/functions/fn/configuration/urls/live",
        {"AuthType": "NONE"},
        "lambda:UpdateFunctionUrlConfig",
    ),
    ("DELETE", "/functions/fn/configuration/urls/live", None, "lambda:DeleteFunctionUrlConfig"),
    ("DELETE", "/layers/lib/1", None, "lambda:DeleteLayerVersion"),
    (
        "POST",
        "/_console/functions/fn/code",
        {"files": [{"path": "app.py", "content": "x"}]},
        "lambda:UpdateFunctionCode",
    ),
    (
        "POST",
        "/_console/functions/fn/runtime",
        {"runtime": "python3.12", "handler": "app.h"},
        "lambda:UpdateFunctionConfiguration",
    ),
    (
        "POST",
        "/functions/fn/configuration/general",
        {"MemorySize": 256},
        "lambda:UpdateFunctionConfiguration",
    ),
    (
        "POST",
        "/functions/fn/configuration/environment",
        {"Variables": {"AB": "1"}},
        "lambda:UpdateFunctionConfiguration",
    ),
    ("POST", "/functions/fn/configuration/tags", {"Tags": {"team": "a"}}, "lambda:TagResource"),
    (
        "POST",
        "/functions/fn/configuration/policy",
        {"StatementId": "new", "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com"},
        "lambda:AddPermission",
    ),
    ("DELETE", "/functions/fn/configuration/policy/keep", None, "lambda:RemovePermission"),
    (
        "POST",
        "/functions/fn/configuration/concurrency",
        {"ReservedConcurrentExecutions": 5},
        "lambda:PutFunctionConcurrency",
    ),
    (
        "POST",
        "/functions/fn/configuration/layers",
        {"Layers": []},
        "lambda:UpdateFunctionConfiguration",
    ),
    (
        "POST",
        "/functions/fn/configuration/async",
        {"MaximumRetryAttempts": 1},
        "lambda:PutFunctionEventInvokeConfig",
    ),
    (
        "POST",
        "/functions/fn/configuration/urls",
        {"AuthType": "NONE"},
        "lambda:CreateFunctionUrlConfig",
    ),
    ("POST", "/functions/fn/versions/publish", {}, "lambda:PublishVersion"),
    (
        "POST",
        "/functions/fn/aliases",
        {"Name": "beta", "FunctionVersion": "$LATEST"},
        "lambda:CreateAlias",
    ),
    (
        "POST",
        "/functions/fn/aliases/live",
        {"FunctionVersion": "$LATEST", "Description": "d"},
        "lambda:UpdateAlias",
    ),
    ("DELETE", "/functions/fn/aliases/live", None, "lambda:DeleteAlias"),
    (
        "POST",
        "/functions/fn/triggers/mappings",
        {"EventSourceArn": "arn:aws:sqs:us-east-1:111111111111:orders"},
        "lambda:CreateEventSourceMapping",
    ),
    (
        "POST",
        "/functions/fn/triggers/rules",
        {"Name": "tick", "ScheduleExpression": "rate(5 minutes)"},
        "events:PutRule",
    ),
    ("POST", "/functions/fn/test/events", {"name": "mine", "payload": {}}, "lambda:InvokeFunction"),
    ("POST", "/functions/fn/test/invoke", {"payload": {}}, "lambda:InvokeFunction"),
    (
        "POST",
        "/_console/functions",
        {"name": "another", "blueprint": all_blueprints()[0].key},
        "lambda:CreateFunction",
    ),
    (
        "POST",
        "/layers/publish",
        {"LayerName": "lib", "ZipFile": base64.b64encode(make_zip({"python/x.py": ""})).decode()},
        "lambda:PublishLayerVersion",
    ),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "action"), WRITES, ids=[w[1] + " " + w[0] for w in WRITES]
)
def test_a_read_only_user_is_refused_each_change_with_awss_message_and_nothing_changes(
    fn: Function, method: str, url: str, body: dict[str, Any] | None, action: str
) -> None:
    reader = _user("reader", policy=READ_ONLY)
    before = _snapshot(fn)
    answer = _send(_client(reader), method, url, body)
    assert answer.status_code == 403, answer.content
    error = answer.json()["error"]
    assert error["code"] == "AccessDeniedException"
    assert error["message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: {action}"
    )
    assert _snapshot(fn) == before


def test_a_read_only_user_sees_the_functions_their_code_logs_and_metrics(fn: Function) -> None:
    client = _client(_user("reader", policy=READ_ONLY))
    assert "fn" in client.get("/").content.decode()
    assert client.get("/functions/fn/").status_code == 200
    for url in (
        "/_console/functions/fn/code",
        "/functions/fn/triggers",
        "/functions/fn/test/events",
        "/functions/fn/monitor/invocations",
        "/functions/fn/monitor/invocations/0000",
        "/_functory/api/metrics?metric=Invocations&function=fn",
        "/_functory/async-invocations",
    ):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.content)


def test_a_read_only_user_sees_the_layers_but_cannot_publish_or_delete_them(fn: Function) -> None:
    page = _client(_user("reader", policy=READ_ONLY)).get("/layers/").content.decode()
    assert "lib" in page
    assert "lambda:PublishLayerVersion" in _button(page, "Publish</button>")
    assert "lambda:DeleteLayerVersion" in _button(page, 'aria-label="Delete lib version 1"')
    admin_page = _client(_user("boss", admin=True)).get("/layers/").content.decode()
    assert "data-denied" not in admin_page


def _button(page: str, marker: str) -> str:
    """The opening tag of the button ``marker`` is in (an attribute) or ends (its text)."""
    start = page.rindex("<button", 0, page.index(marker))
    return page[start : page.index(">", start) + 1]


def _permissions(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="console-permissions" type="application/json">(.*?)</script>', page
    )
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_the_function_page_disables_what_a_read_only_user_cannot_do_with_the_reason(
    fn: Function,
) -> None:
    page = _client(_user("reader", policy=READ_ONLY)).get("/functions/fn/").content.decode()
    for marker, action, note in (
        ('id="code-deploy"', "lambda:UpdateFunctionCode", "to deploy code"),
        ('id="tt-run"', "lambda:InvokeFunction", "to run Test"),
        ('id="function-delete"', "lambda:DeleteFunction", "to delete the function"),
        ('id="tt-save"', "lambda:InvokeFunction", "to save test events"),
        (
            "Save runtime settings",
            "lambda:UpdateFunctionConfiguration",
            "to change the configuration",
        ),
        ("Publish new version", "lambda:PublishVersion", "to publish versions"),
        ("data-alias-submit", "lambda:CreateAlias", "to create aliases"),
        ("data-url-new", "lambda:CreateFunctionUrlConfig", "to create function URLs"),
        ("data-trigger-new", "lambda:CreateEventSourceMapping", "to add event sources"),
        ("Add permission</button>", "lambda:AddPermission", "to add policy statements"),
    ):
        tag = page[: page.index(marker) + len(marker)]
        tag = (
            tag[tag.rindex("<button") :] + page[page.index(marker) + len(marker) :].split(">", 1)[0]
        )
        assert " disabled" in tag, marker
        assert f"is not authorized to perform: {action}" in tag, marker
        assert f'data-denied="You need {action} {note}."' in tag, marker
    # The visible note beside the Deploy and Test buttons.
    assert "You need lambda:UpdateFunctionCode to deploy code." in page
    assert "You need lambda:InvokeFunction to run Test." in page
    # Its script gets the same answers, for the controls it draws itself.
    permissions = _permissions(page)
    assert "lambda:RemovePermission" in permissions["remove_permission"]["message"]
    assert permissions["read_logs"] is None and permissions["read_metrics"] is None
    assert permissions["live_tail"] is None and permissions["view_function"] is None


@pytest.mark.parametrize("who", ["full-access", "admin"])
def test_a_full_access_user_and_the_admin_see_the_controls_enabled_and_act(
    fn: Function, who: str
) -> None:
    user = _user("dev", policy=FULL_ACCESS) if who == "full-access" else _user("boss", admin=True)
    client = _client(user)
    page = client.get("/functions/fn/").content.decode()
    for marker in ('id="tt-run"', 'id="tt-save"', "data-url-new", "data-trigger-new"):
        assert "data-denied" not in _button(page, marker)
    shown = re.sub(r'<script id="console-permissions".*?</script>', "", page, flags=re.S)
    assert "You need " not in shown and "data-denied" not in shown
    refused = {name for name, denied in _permissions(page).items() if denied}
    # AWSLambda_FullAccess is Lambda's: EventBridge rules are another service's.
    assert refused <= {"put_rule", "put_targets", "enable_rule", "disable_rule"} | {
        "remove_targets",
        "delete_rule",
        "rule_add",
        "rule_remove",
    }
    assert 'class="button" href="/functions/new/"' in client.get("/").content.decode()
    general = _send(client, "POST", "/functions/fn/configuration/general", {"MemorySize": 256})
    assert general.status_code == 200, general.content
    deployed = _send(
        client,
        "POST",
        "/_console/functions/fn/code",
        {"files": [{"path": "app.py", "content": "x=1"}]},
    )
    assert deployed.status_code == 200, deployed.content
    alias = _send(
        client, "POST", "/functions/fn/aliases", {"Name": "beta", "FunctionVersion": "$LATEST"}
    )
    assert alias.status_code == 201, alias.content
    saved = _send(client, "POST", "/functions/fn/test/events", {"name": "e1", "payload": {"a": 1}})
    assert saved.status_code == 201, saved.content
    latest = selectors.latest_version(fn)
    assert latest.memory_size == 256
    assert set(fn.aliases.values_list("name", flat=True)) == {"live", "beta"}
    assert _send(client, "DELETE", "/_console/functions/fn").status_code == 204
    assert not Function.objects.filter(name="fn").exists()


def test_a_read_only_user_sees_create_function_disabled_with_the_reason(fn: Function) -> None:
    client = _client(_user("reader", policy=READ_ONLY))
    listing = client.get("/").content.decode()
    assert 'href="/functions/new/"' not in listing.split("fn-list-head", 1)[1].split("</div>", 1)[0]
    assert "You need lambda:CreateFunction to create functions." in listing
    create = client.get("/functions/new/").content.decode()
    assert "lambda:CreateFunction" in _button(create, "Create function</button>")


def test_a_user_without_policies_gets_the_not_authorized_page_not_an_error(fn: Function) -> None:
    client = _client(_user("nobody"))
    for url, action in (
        ("/", "lambda:ListFunctions"),
        ("/functions/fn/", "lambda:GetFunction"),
        ("/layers/", "lambda:ListLayers"),
        ("/async-invocations/", "lambda:ListFunctions"),
    ):
        answer = client.get(url)
        assert answer.status_code == 403, url
        page = answer.content.decode()
        assert "Not authorized" in page
        assert f"is not authorized to perform: {action}" in page
    for url in (
        "/_console/functions/fn/code",
        "/functions/fn/monitor/invocations",
        "/_functory/api/metrics?metric=Invocations&function=fn",
        "/_functory/api/logs/live-token?group=/aws/lambda/fn",
        "/_functory/async-invocations",
    ):
        answer = client.get(url)
        assert answer.status_code == 403, url
        assert "is not authorized to perform" in answer.json()["error"]["message"]


def test_a_shareable_test_event_needs_update_function_configuration(fn: Function) -> None:
    """Private events need what running them needs; shareable ones change what everyone
    testing the function sees."""
    tester = _user("tester", policy=READ_ONLY)
    entities.attach(tester, "arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
    client = _client(tester)
    private = _send(client, "POST", "/functions/fn/test/events", {"name": "mine", "payload": {}})
    assert private.status_code == 201, private.content
    shared = _send(
        client, "POST", "/functions/fn/test/events", {"name": "ours", "payload": {}, "shared": True}
    )
    assert shared.status_code == 403
    assert "lambda:UpdateFunctionConfiguration" in shared.json()["error"]["message"]
    assert sorted(TestEvent.objects.values_list("name", flat=True)) == ["mine", "ours"]
    ours = TestEvent.objects.get(name="ours")
    for method, body in (
        ("PUT", {"name": "ours", "payload": {"x": 1}, "shared": True}),
        ("DELETE", None),
    ):
        answer = _send(client, method, f"/functions/fn/test/events/{ours.pk}", body)
        assert answer.status_code == 403, (method, answer.content)
        assert "lambda:UpdateFunctionConfiguration" in answer.json()["error"]["message"]
    ours.refresh_from_db()
    assert ours.payload == {}
    page = client.get("/functions/fn/").content.decode()
    assert "data-denied" not in _button(page, 'id="tt-run"')
    assert 'id="tt-shared" disabled' in page


def test_a_user_who_may_not_read_logs_or_metrics_sees_why_on_the_monitor_tab(
    fn: Function,
) -> None:
    viewer = _user("viewer")
    entities.inline_put(
        viewer,
        "view-only",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["lambda:GetFunction", "lambda:ListFunctions", "lambda:ListTags"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    client = _client(viewer)
    page = client.get("/functions/fn/").content.decode()
    for note in (
        "You need cloudwatch:GetMetricData to see metrics.",
        "You need logs:StartLiveTail to follow the logs live.",
        "You need logs:FilterLogEvents to read the function&#x27;s logs.",
    ):
        assert note in page
    assert client.get("/functions/fn/monitor/invocations").status_code == 403


def test_a_read_only_user_cannot_toggle_or_remove_triggers(fn: Function) -> None:
    admin = _client(_user("boss", admin=True))
    mapping = _send(
        admin,
        "POST",
        "/functions/fn/triggers/mappings",
        {"EventSourceArn": "arn:aws:sqs:us-east-1:111111111111:orders", "Enabled": False},
    )
    assert mapping.status_code == 201, mapping.content
    uuid = mapping.json()["Mapping"]["UUID"]
    rule = _send(
        admin,
        "POST",
        "/functions/fn/triggers/rules",
        {"Name": "tick", "ScheduleExpression": "rate(5 minutes)"},
    )
    assert rule.status_code == 201, rule.content
    reader = _client(_user("reader", policy=READ_ONLY))
    before = _snapshot(fn)
    states = sorted(EventSourceMapping.objects.values_list("enabled", flat=True))
    for method, url, body, action in (
        (
            "PUT",
            f"/functions/fn/triggers/mappings/{uuid}",
            {"Enabled": True},
            "lambda:UpdateEventSourceMapping",
        ),
        (
            "DELETE",
            f"/functions/fn/triggers/mappings/{uuid}",
            None,
            "lambda:DeleteEventSourceMapping",
        ),
        ("PUT", "/functions/fn/triggers/rules/tick", {"Enabled": False}, "events:DisableRule"),
        ("DELETE", "/functions/fn/triggers/rules/tick", None, "events:RemoveTargets"),
    ):
        answer = _send(reader, method, url, body)
        assert answer.status_code == 403, (url, answer.content)
        assert f"is not authorized to perform: {action}" in answer.json()["error"]["message"]
    assert _snapshot(fn) == before
    assert sorted(EventSourceMapping.objects.values_list("enabled", flat=True)) == states
    assert list(Rule.objects.values_list("state", flat=True)) == [Rule.ENABLED]


def test_the_note_names_the_action_aws_refused_a_dependent_one_included(fn: Function) -> None:
    """Creating a function with a role needs iam:PassRole besides lambda:CreateFunction."""
    creator = _user("creator")
    entities.inline_put(
        creator,
        "create-only",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["lambda:CreateFunction", "lambda:ListFunctions"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    page = _client(creator).get("/functions/new/").content.decode()
    assert "You need iam:PassRole to create functions." in page
