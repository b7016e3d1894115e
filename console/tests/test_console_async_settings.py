"""The configuration tab's asynchronous-invocation settings in a real browser: what is
saved through the UI is what GetFunctionEventInvokeConfig reports."""

from __future__ import annotations

import pytest

from conftest import create_function
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

QUEUE = "arn:aws:sqs:us-east-1:123456789012:failed-events"
TOPIC = "arn:aws:sns:us-east-1:123456789012:dead-letters"


def test_retry_attempts_a_destination_and_a_dead_letter_queue_are_set_through_the_ui(
    console: Console,
) -> None:
    create_function(console.lam, "eventful")
    page = console.page
    console.goto("/functions/eventful/#configuration")
    section = page.locator("#cfg-async")
    assert section.get_by_label("Retry attempts").input_value() == "2"
    section.get_by_label("Retry attempts").select_option("0")
    section.get_by_label("Maximum age of event (seconds)").fill("3600")
    section.get_by_label("On-failure destination (optional)").fill(QUEUE)
    section.get_by_label("Dead-letter queue (optional)").fill(TOPIC)
    section.get_by_role("button", name="Save").click()
    section.get_by_text("Saved").wait_for()

    config = console.lam.get_function_event_invoke_config(FunctionName="eventful")
    assert config["FunctionArn"].endswith(":function:eventful:$LATEST")
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": QUEUE}}
    function = console.lam.get_function_configuration(FunctionName="eventful")
    assert function["DeadLetterConfig"] == {"TargetArn": TOPIC}
    console.screenshot("async-settings")
    assert console.foreign_requests() == []


def test_an_invalid_destination_is_shown_next_to_its_field_and_nothing_changes(
    console: Console,
) -> None:
    create_function(console.lam, "eventful")
    console.lam.put_function_event_invoke_config(FunctionName="eventful", MaximumRetryAttempts=1)
    page = console.page
    console.goto("/functions/eventful/#configuration")
    section = page.locator("#cfg-async")
    assert section.get_by_label("Retry attempts").input_value() == "1"
    section.get_by_label("Retry attempts").select_option("0")
    section.get_by_label("On-success destination (optional)").fill(
        "arn:aws:dynamodb:us-east-1:123456789012:table/records"
    )
    section.get_by_role("button", name="Save").click()
    error = section.locator('[data-error-for="destinationConfig.onSuccess.destination"]')
    error.wait_for()
    assert "is invalid" in error.inner_text()
    field = section.get_by_label("On-success destination (optional)")
    assert field.get_attribute("aria-invalid") == "true"

    section.get_by_label("Maximum age of event (seconds)").fill("30")
    section.get_by_label("On-success destination (optional)").fill("")
    section.get_by_role("button", name="Save").click()
    age_error = section.locator('[data-error-for="maximumEventAgeInSeconds"]')
    age_error.wait_for()
    assert "greater than or equal to 60" in age_error.inner_text()

    section.get_by_label("Maximum age of event (seconds)").fill("3600")
    section.get_by_label("Dead-letter queue (optional)").fill(
        "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
    )
    section.get_by_role("button", name="Save").click()
    dead_letter_error = section.locator('[data-error-for="deadLetterConfig.targetArn"]')
    dead_letter_error.wait_for()
    assert "SQS queue or an Amazon SNS topic" in dead_letter_error.inner_text()

    config = console.lam.get_function_event_invoke_config(FunctionName="eventful")
    assert config["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in config
    assert "DeadLetterConfig" not in console.lam.get_function_configuration(FunctionName="eventful")
