"""Asynchronous-invocation settings (Put/Update/Get/Delete/ListFunctionEventInvokeConfigs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import create_function

pytestmark = pytest.mark.live

QUEUE = "arn:aws:sqs:us-east-1:123456789012:failures"
TOPIC = "arn:aws:sns:us-east-1:123456789012:successes"
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/default"


def _arn(lam: Any, name: str, qualifier: str | None = None) -> str:
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return f"{arn}:{qualifier}" if qualifier else arn


def test_it_puts_and_gets_settings_of_latest_with_a_qualified_arn(lam):
    create_function(lam, "fn")
    put = lam.put_function_event_invoke_config(
        FunctionName="fn",
        MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": QUEUE}},
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["FunctionArn"] == _arn(lam, "fn", "$LATEST")
    assert put["MaximumRetryAttempts"] == 0
    assert put["MaximumEventAgeInSeconds"] == 3600
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": QUEUE}}
    assert isinstance(put["LastModified"], dt.datetime)
    assert abs((dt.datetime.now(dt.UTC) - put["LastModified"]).total_seconds()) < 60

    got = lam.get_function_event_invoke_config(FunctionName="fn")
    got.pop("ResponseMetadata")
    put.pop("ResponseMetadata")
    assert got == put
    qualified = lam.get_function_event_invoke_config(FunctionName="fn", Qualifier="$LATEST")
    qualified.pop("ResponseMetadata")
    assert qualified == put


def test_put_replaces_every_setting_and_leaves_out_unset_ones(lam):
    create_function(lam, "fn")
    lam.put_function_event_invoke_config(
        FunctionName="fn",
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": TOPIC}},
    )
    put = lam.put_function_event_invoke_config(FunctionName="fn", MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in put
    assert put["MaximumEventAgeInSeconds"] == 60
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}


def test_update_changes_only_the_settings_given(lam):
    create_function(lam, "fn")
    lam.put_function_event_invoke_config(
        FunctionName="fn",
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": TOPIC}},
    )
    updated = lam.update_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": BUS}}
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["MaximumEventAgeInSeconds"] == 120
    assert updated["DestinationConfig"] == {
        "OnSuccess": {"Destination": TOPIC},
        "OnFailure": {"Destination": BUS},
    }
    updated = lam.update_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=2)
    assert updated["MaximumRetryAttempts"] == 2
    assert lam.get_function_event_invoke_config(FunctionName="fn")["MaximumRetryAttempts"] == 2


def test_update_without_a_configuration_is_not_found(lam):
    create_function(lam, "fn")
    with pytest.raises(ClientError) as error:
        lam.update_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=1)
    assert _error(error) == (
        "ResourceNotFoundException",
        f"The function {_arn(lam, 'fn', '$LATEST')} doesn't have an EventInvokeConfig",
        404,
    )


def test_it_deletes_a_configuration_and_then_reports_none(lam):
    create_function(lam, "fn")
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    deleted = lam.delete_function_event_invoke_config(FunctionName="fn")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    missing = f"The function {_arn(lam, 'fn', '$LATEST')} doesn't have an EventInvokeConfig"
    with pytest.raises(ClientError) as error:
        lam.get_function_event_invoke_config(FunctionName="fn")
    assert _error(error) == ("ResourceNotFoundException", missing, 404)
    with pytest.raises(ClientError) as error:
        lam.delete_function_event_invoke_config(FunctionName="fn")
    assert _error(error) == ("ResourceNotFoundException", missing, 404)


def test_get_and_delete_of_a_missing_function_say_it_has_no_configuration(lam):
    arn = _arn(lam, create_function(lam, "other")["FunctionName"]).replace("other", "ghost")
    for call in (lam.get_function_event_invoke_config, lam.delete_function_event_invoke_config):
        with pytest.raises(ClientError) as error:
            call(FunctionName="ghost")
        assert _error(error) == (
            "ResourceNotFoundException",
            f"The function {arn}:$LATEST doesn't have an EventInvokeConfig",
            404,
        )


def test_writes_to_a_missing_function_or_qualifier_are_not_found(lam):
    create_function(lam, "fn")
    calls = [
        {"FunctionName": "ghost"},
        {"FunctionName": "fn", "Qualifier": "7"},
        {"FunctionName": "fn", "Qualifier": "no-such-alias"},
    ]
    for call in calls:
        for write in (
            lam.put_function_event_invoke_config,
            lam.update_function_event_invoke_config,
        ):
            with pytest.raises(ClientError) as error:
                write(**call, MaximumRetryAttempts=1)
            assert _error(error) == (
                "ResourceNotFoundException",
                "The function doesn't exist.",
                404,
            )
    with pytest.raises(ClientError) as error:
        lam.list_function_event_invoke_configs(FunctionName="ghost")
    assert _error(error) == ("ResourceNotFoundException", "The function doesn't exist.", 404)


def test_put_and_update_need_at_least_one_setting(lam):
    create_function(lam, "fn")
    for write in (lam.put_function_event_invoke_config, lam.update_function_event_invoke_config):
        with pytest.raises(ClientError) as error:
            write(FunctionName="fn")
        assert _error(error) == (
            "InvalidParameterValueException",
            "You must specify at least one of error handling or destination setting.",
            400,
        )


def test_it_keeps_settings_per_version_and_alias_and_lists_them(lam):
    create_function(lam, "fn")
    lam.publish_version(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    version = lam.put_function_event_invoke_config(
        FunctionName="fn", Qualifier="1", MaximumRetryAttempts=1
    )
    assert version["FunctionArn"] == _arn(lam, "fn", "1")
    alias = lam.put_function_event_invoke_config(
        FunctionName=_arn(lam, "fn", "live"), MaximumRetryAttempts=2
    )
    assert alias["FunctionArn"] == _arn(lam, "fn", "live")
    assert lam.get_function_event_invoke_config(FunctionName="fn:live")["MaximumRetryAttempts"] == 2
    assert lam.get_function_event_invoke_config(FunctionName="fn")["MaximumRetryAttempts"] == 0

    listed = lam.list_function_event_invoke_configs(FunctionName="fn")
    assert sorted(c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]) == sorted(
        _arn(lam, "fn", q) for q in ("$LATEST", "1", "live")
    )
    assert "NextMarker" not in listed

    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = lam.list_function_event_invoke_configs(FunctionName="fn", MaxItems=1, **marker)
        assert len(page["FunctionEventInvokeConfigs"]) == 1
        seen.append(page["FunctionEventInvokeConfigs"][0]["FunctionArn"])
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert sorted(seen) == sorted(_arn(lam, "fn", q) for q in ("$LATEST", "1", "live"))


def test_deleting_a_version_alias_or_function_removes_its_settings(lam):
    create_function(lam, "fn")
    lam.publish_version(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="$LATEST")
    for qualifier in ("1", "live"):
        lam.put_function_event_invoke_config(
            FunctionName="fn", Qualifier=qualifier, MaximumRetryAttempts=1
        )
    lam.delete_alias(FunctionName="fn", Name="live")
    lam.delete_function(FunctionName="fn", Qualifier="1")
    assert (
        lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"]
        == []
    )
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="$LATEST")
    with pytest.raises(ClientError) as error:
        lam.get_function_event_invoke_config(FunctionName="fn", Qualifier="live")
    assert _error(error)[0] == "ResourceNotFoundException"

    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=1)
    lam.delete_function(FunctionName="fn")
    create_function(lam, "fn")
    with pytest.raises(ClientError) as error:
        lam.get_function_event_invoke_config(FunctionName="fn")
    assert _error(error)[0] == "ResourceNotFoundException"


def test_it_rejects_destinations_that_are_not_queues_topics_buses_or_functions(lam):
    create_function(lam, "fn")
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/records"
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(
            FunctionName="fn", DestinationConfig={"OnSuccess": {"Destination": table}}
        )
    assert _error(error) == (
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{table}), onFailure=null) is invalid.",
        400,
    )
    bucket = "arn:aws:s3:::records"
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(
            FunctionName="fn", DestinationConfig={"OnSuccess": {"Destination": bucket}}
        )
    assert _error(error)[0] == "InvalidParameterValueException"
    # S3 buckets take on-failure records only.
    put = lam.put_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": bucket}}
    )
    assert put["DestinationConfig"]["OnFailure"] == {"Destination": bucket}


def test_a_function_destination_must_exist_and_not_be_the_function_itself(lam):
    create_function(lam, "fn")
    target = create_function(lam, "target")["FunctionArn"]
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(
            FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": _arn(lam, "fn")}}
        )
    assert _error(error) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
        400,
    )
    ghost = target.replace("target", "ghost")
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(
            FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": ghost}}
        )
    assert _error(error) == (
        "InvalidParameterValueException",
        f"The destination ARN {ghost} is invalid.",
        400,
    )
    put = lam.put_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={"OnSuccess": {"Destination": target}}
    )
    assert put["DestinationConfig"]["OnSuccess"] == {"Destination": target}


def test_a_failing_request_changes_nothing(lam):
    create_function(lam, "fn")
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=1)
    with pytest.raises(ClientError):
        lam.update_function_event_invoke_config(
            FunctionName="fn",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::records"}},
        )
    with pytest.raises(ClientError):
        lam.put_function_event_invoke_config(
            FunctionName="fn",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": _arn(lam, "fn")}},
        )
    got = lam.get_function_event_invoke_config(FunctionName="fn")
    assert got["MaximumRetryAttempts"] == 1
    assert got["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}


def test_out_of_range_settings_fail_validation(raw_lam):
    create_function(raw_lam, "fn")
    with pytest.raises(ClientError) as error:
        raw_lam.put_function_event_invoke_config(
            FunctionName="fn", MaximumRetryAttempts=3, MaximumEventAgeInSeconds=59
        )
    code, message, status = _error(error)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint" in message
    assert "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint" in message
    with pytest.raises(ClientError):
        raw_lam.list_function_event_invoke_configs(FunctionName="fn", MaxItems=51)


def test_a_name_qualifier_that_contradicts_the_qualifier_parameter_is_rejected(lam):
    create_function(lam, "fn")
    lam.publish_version(FunctionName="fn")
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(
            FunctionName="fn:1", Qualifier="$LATEST", MaximumRetryAttempts=1
        )
    assert _error(error) == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
        400,
    )
