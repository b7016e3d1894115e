"""The event source mapping API against the live server, with boto3 and the AWS CLI:
AWS's paths, statuses, states, members and messages."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Credentials, LiveServer, client_error, client_for, create_function, create_user
from console.tests.raw_http import signed
from functions.tests.test_cli_smoke import Cli

pytestmark = pytest.mark.live

MISSING = "The resource you requested does not exist."


def queue_arn(creds: Credentials, name: str = "orders") -> str:
    return f"arn:aws:sqs:us-east-1:{creds.account_id}:{name}"


def _fails(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return client_error(excinfo)


def _body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_an_sqs_mapping_lives_and_dies_as_on_aws(lam: Any, credentials: Credentials) -> None:
    fn_arn = create_function(lam, "worker")["FunctionArn"]
    queue = queue_arn(credentials)
    created = lam.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=queue, BatchSize=5
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    body = _body(created)
    assert set(body) == {
        "UUID",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "EventSourceArn",
        "FunctionArn",
        "LastModified",
        "State",
        "StateTransitionReason",
        "FunctionResponseTypes",
        "EventSourceMappingArn",
    }
    assert body["State"] == "Creating"
    assert body["FunctionArn"] == fn_arn
    assert (body["BatchSize"], body["MaximumBatchingWindowInSeconds"]) == (5, 0)
    assert isinstance(body["LastModified"], dt.datetime)
    assert body["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:{credentials.account_id}:event-source-mapping:{body['UUID']}"
    )
    uuid = body["UUID"]

    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["State"] == "Enabled"

    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 7)
    disabled = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabled["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"

    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"
    assert _fails(lam.get_event_source_mapping, UUID=uuid) == (
        "ResourceNotFoundException",
        MISSING,
        404,
    )
    assert _fails(lam.delete_event_source_mapping, UUID=uuid)[0] == "ResourceNotFoundException"


def test_a_kinesis_mapping_has_the_stream_members(lam: Any, credentials: Credentials) -> None:
    create_function(lam, "reader")
    stream = f"arn:aws:kinesis:us-east-1:{credentials.account_id}:stream/clicks"
    code, message, status = _fails(
        lam.create_event_source_mapping, FunctionName="reader", EventSourceArn=stream
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "Value null at 'startingPosition'" in message
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    body = lam.create_event_source_mapping(
        FunctionName="reader",
        EventSourceArn=stream,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=at,
        ParallelizationFactor=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": queue_arn(credentials, "dlq")}},
    )
    assert body["StartingPositionTimestamp"] == at
    assert body["ParallelizationFactor"] == 3
    assert body["MaximumRetryAttempts"] == -1
    assert body["LastProcessingResult"] == "No records processed"
    assert body["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert body["DestinationConfig"] == {
        "OnFailure": {"Destination": queue_arn(credentials, "dlq")}
    }


def test_function_names_arns_and_qualifiers(lam: Any, credentials: Credentials) -> None:
    arn = create_function(lam, "named")["FunctionArn"]
    lam.publish_version(FunctionName="named")
    lam.create_alias(FunctionName="named", Name="live", FunctionVersion="1")
    forms = {
        "named:live": f"{arn}:live",
        f"{credentials.account_id}:function:named:1": f"{arn}:1",
        arn: arn,
    }
    for index, (name, expected) in enumerate(forms.items()):
        body = lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=queue_arn(credentials, f"q{index}")
        )
        assert body["FunctionArn"] == expected
    listed = lam.list_event_source_mappings(FunctionName="named:live")["EventSourceMappings"]
    assert [m["FunctionArn"] for m in listed] == [f"{arn}:live"]
    for missing in ("named:nope", "named:7", "ghost"):
        assert _fails(
            lam.create_event_source_mapping,
            FunctionName=missing,
            EventSourceArn=queue_arn(credentials),
        ) == ("InvalidParameterValueException", "Function does not exist", 400)


def test_another_account_sees_nothing(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    arn = create_function(lam, "private")["FunctionArn"]
    uuid = lam.create_event_source_mapping(
        FunctionName="private", EventSourceArn=queue_arn(credentials)
    )["UUID"]
    intruder = client_for(functory, create_user(functory))
    assert _fails(
        intruder.create_event_source_mapping,
        FunctionName=arn,
        EventSourceArn=queue_arn(credentials, "theirs"),
    ) == ("InvalidParameterValueException", "Function does not exist", 400)
    for call in (intruder.get_event_source_mapping, intruder.delete_event_source_mapping):
        assert _fails(call, UUID=uuid) == ("ResourceNotFoundException", MISSING, 404)
    assert _fails(intruder.update_event_source_mapping, UUID=uuid, BatchSize=1)[2] == 404
    assert intruder.list_event_source_mappings()["EventSourceMappings"] == []
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"


def test_a_duplicate_mapping_conflicts(lam: Any, credentials: Credentials) -> None:
    create_function(lam, "dup")
    first = lam.create_event_source_mapping(
        FunctionName="dup", EventSourceArn=queue_arn(credentials)
    )
    code, message, status = _fails(
        lam.create_event_source_mapping, FunctionName="dup", EventSourceArn=queue_arn(credentials)
    )
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        f'An event source mapping with SQS arn (" {queue_arn(credentials)} ") and function '
        f'(" dup ") already exists. Please update or delete the existing mapping with UUID '
        f"{first['UUID']}"
    )


def test_listing_filters_and_pages(lam: Any, credentials: Credentials) -> None:
    create_function(lam, "a")
    create_function(lam, "b")
    made = [
        lam.create_event_source_mapping(FunctionName="a", EventSourceArn=queue_arn(credentials, q))[
            "UUID"
        ]
        for q in ("q1", "q2", "q3")
    ]
    lam.create_event_source_mapping(FunctionName="b", EventSourceArn=queue_arn(credentials, "q1"))
    seen: list[str] = []
    kwargs: dict[str, Any] = {"FunctionName": "a", "MaxItems": 1}
    while True:
        page = lam.list_event_source_mappings(**kwargs)
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        if "NextMarker" not in page:
            break
        kwargs["Marker"] = page["NextMarker"]
    assert seen == made
    by_source = lam.list_event_source_mappings(EventSourceArn=queue_arn(credentials, "q1"))
    assert len(by_source["EventSourceMappings"]) == 2
    paginator = lam.get_paginator("list_event_source_mappings")
    everything = [
        m
        for p in paginator.paginate(PaginationConfig={"PageSize": 2})
        for m in p["EventSourceMappings"]
    ]
    assert len(everything) == 4
    assert _fails(lam.list_event_source_mappings, Marker="forged")[0] == (
        "InvalidParameterValueException"
    )


def test_model_and_service_validation(lam: Any, raw_lam: Any, credentials: Credentials) -> None:
    create_function(lam, "checked")
    queue = queue_arn(credentials)
    code, message, _ = _fails(
        raw_lam.create_event_source_mapping,
        FunctionName="checked",
        EventSourceArn=queue,
        BatchSize=0,
    )
    assert code == "ValidationException"
    assert "Value '0' at 'batchSize' failed to satisfy constraint" in message
    assert _fails(
        lam.create_event_source_mapping, FunctionName="checked", EventSourceArn=queue, BatchSize=50
    ) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
        400,
    )
    assert _fails(
        lam.create_event_source_mapping,
        FunctionName="checked",
        EventSourceArn="arn:aws:s3:::bucket",
    ) == ("InvalidParameterValueException", "Unrecognized event source.", 400)
    code, message, _ = _fails(
        lam.create_event_source_mapping,
        FunctionName="checked",
        EventSourceArn=queue,
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"n": [{"numeric": [">", "x"]}]}}'}]},
    )
    assert code == "InvalidParameterValueException"
    assert message.startswith("Invalid filter pattern definition.")
    code, _, status = _fails(raw_lam.get_event_source_mapping, UUID="not-a-uuid")
    assert (code, status) == ("ValidationException", 400)


def test_hostile_filter_criteria_are_refused(lam: Any, credentials: Credentials) -> None:
    create_function(lam, "target")
    queue = queue_arn(credentials, "h")
    deep = '{"a":' * 40 + "[1]" + "}" * 40
    code, message, _ = _fails(
        lam.create_event_source_mapping,
        FunctionName="target",
        EventSourceArn=queue,
        FilterCriteria={"Filters": [{"Pattern": deep}]},
    )
    assert code == "InvalidParameterValueException"
    assert "nested more than 32 levels deep" in message
    flood = {"Filters": [{"Pattern": json.dumps({"body": [str(i)]})} for i in range(1000)]}
    code, message, _ = _fails(
        lam.create_event_source_mapping,
        FunctionName="target",
        EventSourceArn=queue,
        FilterCriteria=flood,
    )
    assert code == "InvalidParameterValueException"
    assert "exceeds the limit of 5" in message
    assert lam.list_event_source_mappings(FunctionName="target")["EventSourceMappings"] == []


def test_raw_paths_answer_as_aws(functory: LiveServer, credentials: Credentials) -> None:
    response = signed(functory, credentials, "PATCH", "/2015-03-31/event-source-mappings")
    assert response.status in (404, 405)
    listed = signed(functory, credentials, "GET", "/2015-03-31/event-source-mappings/")
    assert listed.status == 200
    assert json.loads(listed.body) == {"EventSourceMappings": []}


def test_the_cli_creates_lists_and_deletes(
    functory: LiveServer, credentials: Credentials, tmp_path: Path, lam: Any
) -> None:
    create_function(lam, "cli-fn")
    cli = Cli(functory, credentials, tmp_path)
    queue = queue_arn(credentials, "cli")
    created = cli.json(
        "create-event-source-mapping",
        "--function-name",
        "cli-fn",
        "--event-source-arn",
        queue,
        "--batch-size",
        "3",
        "--filter-criteria",
        json.dumps({"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}),
    )
    assert created["State"] == "Creating"
    listed = cli.json("list-event-source-mappings", "--function-name", "cli-fn")
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    assert listed["EventSourceMappings"][0]["FilterCriteria"]["Filters"][0]["Pattern"]
    cli.json("update-event-source-mapping", "--uuid", created["UUID"], "--no-enabled")
    got = cli.json("get-event-source-mapping", "--uuid", created["UUID"])
    assert got["State"] == "Disabled"
    assert cli.json("delete-event-source-mapping", "--uuid", created["UUID"])["State"] == (
        "Deleting"
    )
    missing = cli.run("get-event-source-mapping", "--uuid", created["UUID"])
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_concurrent_duplicates_make_one_mapping(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    create_function(lam, "racy")
    queue = queue_arn(credentials, "race")

    def attempt(_: int) -> str:
        client = client_for(functory, credentials)
        try:
            client.create_event_source_mapping(FunctionName="racy", EventSourceArn=queue)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "created"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(attempt, range(6)))
    assert outcomes == ["ResourceConflictException"] * 5 + ["created"]
    listed = lam.list_event_source_mappings(EventSourceArn=queue)["EventSourceMappings"]
    assert len(listed) == 1
