"""The asynchronous-invocation form's service and selector (in-process): the defaults come
from one place, a wrong destination names its member and changes nothing, the dead-letter
queue is written with the settings."""

from __future__ import annotations

from typing import Any

import pytest

from awsapi.errors import InvalidParameterValue
from functions import selectors
from functions.models import EventInvokeConfig, FunctionVersion
from functions.services import event_invoke as event_invoke_services
from functions.services import tags as tag_services
from functions.tests.factories import function_row
from iam import services as iam_services

pytestmark = pytest.mark.django_db

QUEUE = "arn:aws:sqs:us-east-1:111111111111:failed"
TOPIC = "arn:aws:sns:us-east-1:111111111111:dead-letters"


def _params(
    *, on_success: str = "", on_failure: str = "", retries: int | None = None
) -> dict[str, Any]:
    return {
        "FunctionName": "fn",
        "MaximumRetryAttempts": retries,
        "MaximumEventAgeInSeconds": None,
        "DestinationConfig": {
            "OnSuccess": {"Destination": on_success},
            "OnFailure": {"Destination": on_failure},
        },
    }


def _resolved() -> selectors.Resolved:
    account = iam_services.account_get_or_create("111111111111")
    function_row(account, "fn")
    return selectors.event_invoke_resolve(account, "fn", FunctionVersion.LATEST, reading=False)


def test_unset_settings_read_as_the_services_defaults() -> None:
    resolved = _resolved()
    assert selectors.event_invoke_settings_latest(resolved.function) == {
        "MaximumEventAgeInSeconds": EventInvokeConfig.DEFAULT_MAXIMUM_EVENT_AGE_SECONDS,
        "MaximumRetryAttempts": EventInvokeConfig.DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
        "OnSuccess": "",
        "OnFailure": "",
        "DeadLetterTargetArn": "",
    }
    defaults = (
        EventInvokeConfig.DEFAULT_MAXIMUM_EVENT_AGE_SECONDS,
        EventInvokeConfig.DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    )
    assert defaults == (21600, 2)


def test_settings_and_the_dead_letter_queue_are_written_together() -> None:
    resolved = _resolved()
    event_invoke_services.event_invoke_settings_put(
        resolved=resolved,
        params=_params(on_failure=QUEUE, retries=0),
        dead_letter_target_arn=TOPIC,
    )
    state = selectors.event_invoke_settings_latest(resolved.function)
    assert state["MaximumRetryAttempts"] == 0
    assert state["MaximumEventAgeInSeconds"] == 21600
    assert (state["OnFailure"], state["DeadLetterTargetArn"]) == (QUEUE, TOPIC)


@pytest.mark.parametrize(
    ("which", "member"),
    [
        ("on_success", event_invoke_services.ON_SUCCESS_MEMBER),
        ("on_failure", event_invoke_services.ON_FAILURE_MEMBER),
    ],
)
def test_a_wrong_destination_names_its_member_and_changes_nothing(which: str, member: str) -> None:
    resolved = _resolved()
    wrong = "arn:aws:dynamodb:us-east-1:111111111111:table/records"
    with pytest.raises(InvalidParameterValue) as error:
        event_invoke_services.event_invoke_settings_put(
            resolved=resolved,
            params=_params(on_success=wrong)
            if which == "on_success"
            else _params(on_failure=wrong),
            dead_letter_target_arn=TOPIC,
        )
    assert error.value.member == member
    assert not EventInvokeConfig.objects.exists()
    assert selectors.latest_version(resolved.function).dead_letter_target_arn == ""


def test_tags_are_replaced_by_the_new_set() -> None:
    function = _resolved().function
    tag_services.tags_add(function=function, tags={"a": "1", "b": "2"})
    assert tag_services.tags_replace(function=function, tags={"b": "3", "c": "4"}) == {
        "b": "3",
        "c": "4",
    }
    assert tag_services.tags_replace(function=function, tags={}) == {}
    function.refresh_from_db()
    assert function.tags == {}
