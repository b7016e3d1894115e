"""The Triggers panel in a real browser, on a server whose pollers read a moto server's SQS:
an SQS mapping and a schedule added from the page, listed with their state (the mapping
settling from Creating), disabled and enabled again, and deleted; a bad schedule refused
next to its field in EventBridge's words."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import AwsPeer, LiveServer, client_for, create_function, run_server
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

# The browser waits this long for a state the server settles on its own.
SETTLE_MS = 30_000
# ...and this long for what only the panel's periodic refresh (15 s) brings.
REFRESH_MS = 60_000


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    """The live server (sandbox executor), its pollers pointed at the moto server."""
    brokers = '{"rabbit": {"engine": "rabbitmq", "url": "amqp://guest:guest@127.0.0.1:5672/"}}'
    yield from run_server(
        tmp_path_factory,
        {
            **aws_peer.env,
            "FUNCTORY_POLLER_LEASE_SECONDS": "3",
            # The Amazon MQ form's broker, registered (the mapping is made disabled).
            "FUNCTORY_MQ_BROKERS": brokers,
        },
    )


def _queue(aws_peer: AwsPeer) -> tuple[str, str]:
    sqs = aws_peer.client("sqs")
    name = f"orders-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return name, arn


def _policy_sids(lam: Any, name: str) -> list[str]:
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return [statement["Sid"] for statement in policy["Statement"]]


def test_an_sqs_mapping_and_a_schedule_are_added_toggled_and_deleted_from_the_page(
    console: Console, aws_peer: AwsPeer
) -> None:
    create_function(console.lam, "worker")
    queue, queue_arn = _queue(aws_peer)
    page = console.page
    console.goto("/functions/worker/#configuration")
    panel = page.locator("#cfg-triggers")
    expect(panel.locator("[data-mappings] tbody")).to_contain_text("No event source mapping.")

    # An SQS mapping, with the form's settings.
    panel.get_by_role("button", name="Add trigger").click()
    form = panel.locator('[data-form="trigger"]')
    form.get_by_label("Source").select_option("sqs")
    form.get_by_label("SQS queue ARN").fill(queue_arn)
    form.get_by_label("Batch size").fill("5")
    form.get_by_label("Report batch item failures").check()
    expect(form.get_by_label("Enable metrics (event counts)")).to_be_checked()
    form.get_by_role("button", name="Add", exact=True).click()

    row = panel.locator("[data-mappings] tr[data-mapping]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(queue)
    expect(row.locator(".state")).to_have_text("Enabled", timeout=SETTLE_MS)
    mapping_id = row.get_attribute("data-mapping")
    assert mapping_id
    mapping = console.lam.get_event_source_mapping(UUID=mapping_id)
    assert mapping["EventSourceArn"] == queue_arn
    assert mapping["BatchSize"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}
    expect(row).to_contain_text(mapping_id)
    expect(page.locator("[data-overview-triggers]")).to_contain_text(f"SQS: {queue}")

    # A message is delivered; the panel's own refresh shows the poller's result.
    sqs = aws_peer.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody="hi")
    expect(row.locator(".result")).to_have_text("OK", timeout=REFRESH_MS)

    # A schedule that is not one is refused next to its field, in EventBridge's words.
    panel.get_by_role("button", name="Add trigger").click()
    form.get_by_label("Source").select_option("schedule")
    form.get_by_label("Rule name").fill("every-minute")
    form.get_by_label("Schedule expression").fill("rate(0 minutes)")
    form.get_by_role("button", name="Add", exact=True).click()
    error = form.locator('[data-error-for="scheduleExpression"]')
    expect(error).to_contain_text("ValidationException")
    expect(error).to_contain_text("Parameter ScheduleExpression is not valid.")

    form.get_by_label("Schedule expression").fill("rate(1 minute)")
    form.get_by_role("button", name="Add", exact=True).click()
    rule = panel.locator('[data-rules] tr[data-rule="every-minute"]')
    expect(rule.locator(".state")).to_have_text("ENABLED")
    expect(rule).to_contain_text("rate(1 minute)")
    expect(panel.locator("[data-trigger-notice]")).to_contain_text(
        "Added the policy statement events-every-minute"
    )
    assert _policy_sids(console.lam, "worker") == ["events-every-minute"]
    expect(page.locator("[data-overview-triggers]")).to_contain_text("EventBridge: every-minute")
    console.screenshot("triggers-panel")

    # Disable and enable both.
    panel.get_by_role("button", name=f"Disable the mapping of {queue}").click()
    expect(row.locator(".state")).to_have_text("Disabled", timeout=SETTLE_MS)
    assert console.lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"
    panel.get_by_role("button", name=f"Enable the mapping of {queue}").click()
    expect(row.locator(".state")).to_have_text("Enabled", timeout=SETTLE_MS)

    panel.get_by_role("button", name="Disable the rule every-minute").click()
    expect(rule.locator(".state")).to_have_text("DISABLED")
    events = client_for(console.server, console.credentials, "events")
    assert events.describe_rule(Name="every-minute")["State"] == "DISABLED"
    panel.get_by_role("button", name="Enable the rule every-minute").click()
    expect(rule.locator(".state")).to_have_text("ENABLED")

    # Delete both.
    page.on("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name=f"Delete the mapping of {queue}").click()
    expect(panel.locator("[data-mappings] tbody")).to_contain_text(
        "No event source mapping.", timeout=SETTLE_MS
    )
    assert (
        console.lam.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"] == []
    )
    panel.get_by_role("button", name="Delete the rule every-minute").click()
    expect(panel.locator("[data-rules] tbody")).to_contain_text(
        "No EventBridge rule targets the function."
    )
    assert events.list_rules()["Rules"] == []
    assert _policy_sids(console.lam, "worker") == []
    expect(page.locator("[data-overview-triggers]")).to_have_text("None")


def test_the_form_sends_each_sources_settings_and_shows_the_apis_errors(
    console: Console,
) -> None:
    account = create_function(console.lam, "reader")["FunctionArn"].split(":")[4]
    page = console.page
    console.goto("/functions/reader/#configuration")
    panel = page.locator("#cfg-triggers")
    panel.get_by_role("button", name="Add trigger").click()
    form = panel.locator('[data-form="trigger"]')

    # Kinesis: the starting position and its timestamp; a bad filter is refused by the API.
    form.get_by_label("Source").select_option("kinesis")
    expect(form.get_by_label("Queue name")).to_be_hidden()
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    form.get_by_label("Kinesis stream ARN").fill(stream)
    form.get_by_label("Starting position").select_option("AT_TIMESTAMP")
    form.get_by_label("Timestamp (UTC)").fill("2026-01-02T03:04:05")
    form.get_by_label("Filter criteria (optional)").fill('{"data": "not a list"}')
    form.get_by_label("Enable metrics (event counts)").uncheck()
    form.get_by_role("button", name="Add", exact=True).click()
    error = form.locator('[data-error-for="filterCriteria"]')
    expect(error).to_contain_text("InvalidParameterValueException: Invalid filter pattern")
    form.get_by_label("Filter criteria (optional)").fill('{"data": {"kind": ["click"]}}')
    form.get_by_role("button", name="Add", exact=True).click()
    row = panel.locator("[data-mappings] tr[data-mapping]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Kinesis")
    expect(row).to_contain_text("AT_TIMESTAMP")
    kinesis = console.lam.get_event_source_mapping(UUID=row.get_attribute("data-mapping"))
    assert kinesis["StartingPosition"] == "AT_TIMESTAMP"
    assert kinesis["StartingPositionTimestamp"].isoformat() == "2026-01-02T03:04:05+00:00"
    assert kinesis["FilterCriteria"] == {"Filters": [{"Pattern": '{"data": {"kind": ["click"]}}'}]}
    assert "MetricsConfig" not in kinesis

    # Amazon MQ: the queue and the broker's secret, which the API insists on.
    panel.get_by_role("button", name="Add trigger").click()
    form.get_by_label("Source").select_option("mq")
    # In the function's account, as AWS requires; "rabbit" is in the operator's registry.
    broker = f"arn:aws:mq:us-east-1:{account}:broker:rabbit:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9"
    form.get_by_label("Amazon MQ broker ARN").fill(broker)
    form.get_by_label("Queue name").fill("jobs")
    form.get_by_role("button", name="Add", exact=True).click()
    expect(form.locator('[data-error-for="sourceAccessConfigurations"]')).to_contain_text(
        "Required 'BASIC_AUTH' source access configuration is missing."
    )
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rabbit"
    form.get_by_label("Secret ARN (BASIC_AUTH)").fill(secret)
    form.get_by_label("Activate trigger").uncheck()
    form.get_by_role("button", name="Add", exact=True).click()
    expect(row).to_have_count(2)
    mq_row = panel.locator("[data-mappings] tr[data-mapping]", has_text="Amazon MQ")
    expect(mq_row.locator(".state")).to_have_text("Disabled", timeout=SETTLE_MS)
    mq = console.lam.get_event_source_mapping(UUID=mq_row.get_attribute("data-mapping"))
    assert mq["Queues"] == ["jobs"]
    assert mq["SourceAccessConfigurations"] == [{"Type": "BASIC_AUTH", "URI": secret}]
    assert mq["MetricsConfig"] == {"Metrics": ["EventCount"]}
    expect(page.locator("[data-overview-triggers]")).to_contain_text("Amazon MQ: rabbit")
