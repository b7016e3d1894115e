"""Event source mapping rules, in process: per-source validation and defaults, states and
their settling, duplicates, accounts, listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from awsapi.errors import AWSError, InvalidParameterValue, ResourceConflict, ResourceNotFound
from functions.models import Function
from functions.tests.factories import function_row
from iam.models import Account
from triggers import render, selectors
from triggers.models import EventSourceMapping
from triggers.services import event_source_mappings as services

pytestmark = pytest.mark.django_db

OWNER = "111122223333"
OTHER = "444455556666"
QUEUE = "arn:aws:sqs:us-east-1:111122223333:orders"
FIFO = "arn:aws:sqs:us-east-1:111122223333:orders.fifo"
STREAM = "arn:aws:kinesis:us-east-1:111122223333:stream/clicks"
TABLE_STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/2024-01-01T00:00:00.000"
BROKER = "arn:aws:mq:us-east-1:111122223333:broker:rabbit:b-0000"


@pytest.fixture
def owner() -> Account:
    return Account.objects.create(id=OWNER)


@pytest.fixture
def fn(owner: Account) -> Function:
    return function_row(owner, "worker")


Create = Callable[..., EventSourceMapping]


@pytest.fixture
def create(owner: Account, fn: Function, django_capture_on_commit_callbacks: Any) -> Create:
    def make(**params: Any) -> EventSourceMapping:
        params.setdefault("FunctionName", fn.name)
        with django_capture_on_commit_callbacks(execute=True):
            return services.mapping_create(account=owner, params=params)

    return make


def rejected(create: Create, **params: Any) -> str:
    with pytest.raises(InvalidParameterValue) as excinfo:
        create(**params)
    return excinfo.value.message


def test_an_sqs_mapping_gets_sqs_defaults_and_shape(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE)
    body = render.mapping_configuration(mapping, state="Creating")
    assert body["BatchSize"] == 10
    assert body["MaximumBatchingWindowInSeconds"] == 0
    assert body["State"] == "Creating"
    assert body["StateTransitionReason"] == "USER_INITIATED"
    assert body["FunctionResponseTypes"] == []
    assert body["FunctionArn"].endswith(":111122223333:function:worker")
    assert body["EventSourceMappingArn"].endswith(f":event-source-mapping:{mapping.uuid}")
    for member in ("StartingPosition", "ParallelizationFactor", "DestinationConfig"):
        assert member not in body
    mapping.refresh_from_db()
    assert mapping.state == "Enabled"


def test_a_disabled_mapping_settles_disabled(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE, Enabled=False)
    mapping.refresh_from_db()
    assert (mapping.state, mapping.enabled, mapping.delivering) == ("Disabled", False, False)


def test_a_kinesis_mapping_gets_stream_defaults(create: Create) -> None:
    mapping = create(EventSourceArn=STREAM, StartingPosition="LATEST")
    body = render.mapping_configuration(mapping)
    assert body["BatchSize"] == 100
    assert body["ParallelizationFactor"] == 1
    assert body["MaximumRetryAttempts"] == -1
    assert body["MaximumRecordAgeInSeconds"] == -1
    assert body["BisectBatchOnFunctionError"] is False
    assert body["TumblingWindowInSeconds"] == 0
    assert body["DestinationConfig"] == {"OnFailure": {}}
    assert body["LastProcessingResult"] == "No records processed"
    assert body["StartingPosition"] == "LATEST"


def test_streams_need_a_starting_position_and_sqs_takes_none(create: Create) -> None:
    assert "Value null at 'startingPosition'" in rejected(create, EventSourceArn=STREAM)
    assert "Value null at 'startingPosition'" in rejected(create, EventSourceArn=TABLE_STREAM)
    assert (
        rejected(create, EventSourceArn=QUEUE, StartingPosition="LATEST")
        == "StartingPosition is not valid for SQS event sources."
    )
    assert rejected(create, EventSourceArn=STREAM, StartingPosition="AT_TIMESTAMP") == (
        "Need to specify a timestamp"
    )
    assert rejected(create, EventSourceArn=TABLE_STREAM, StartingPosition="AT_TIMESTAMP") == (
        f"Unsupported starting position for arn type: {TABLE_STREAM}"
    )
    at = create(
        EventSourceArn=STREAM, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1.7e9
    )
    assert render.mapping_configuration(at)["StartingPositionTimestamp"] == 1.7e9


def test_sqs_batch_rules(create: Create) -> None:
    assert rejected(create, EventSourceArn=QUEUE, BatchSize=11) == (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10"
    )
    assert create(EventSourceArn=QUEUE, BatchSize=10000, MaximumBatchingWindowInSeconds=1)
    assert "between 1 and 10 for a FIFO queue" in rejected(
        create, EventSourceArn=FIFO, BatchSize=11
    )
    assert "not supported by Amazon SQS FIFO" in rejected(
        create, EventSourceArn=FIFO, MaximumBatchingWindowInSeconds=5
    )


def test_stream_settings_are_refused_for_queues(create: Create) -> None:
    for member, value in [
        ("ParallelizationFactor", 2),
        ("BisectBatchOnFunctionError", True),
        ("MaximumRetryAttempts", 3),
        ("MaximumRecordAgeInSeconds", 120),
        ("TumblingWindowInSeconds", 60),
        ("DestinationConfig", {"OnFailure": {"Destination": QUEUE}}),
        ("Topics", ["t"]),
    ]:
        assert rejected(create, EventSourceArn=QUEUE, **{member: value}) == (
            f"Unsupported {member} parameter for given event source mapping type."
        )
    assert "ScalingConfig" in rejected(
        create,
        EventSourceArn=STREAM,
        StartingPosition="LATEST",
        ScalingConfig={"MaximumConcurrency": 5},
    )


def test_record_age_and_destinations_of_streams(create: Create) -> None:
    assert "MaximumRecordAgeInSeconds" in rejected(
        create, EventSourceArn=STREAM, StartingPosition="LATEST", MaximumRecordAgeInSeconds=59
    )
    assert "DestinationConfig" in rejected(
        create,
        EventSourceArn=STREAM,
        StartingPosition="LATEST",
        DestinationConfig={"OnSuccess": {"Destination": QUEUE}},
    )
    mapping = create(
        EventSourceArn=STREAM,
        StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnFailure": {"Destination": QUEUE}},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert mapping.destination_config == {"OnFailure": {"Destination": QUEUE}}
    assert mapping.function_response_types == ["ReportBatchItemFailures"]


def test_unknown_sources_and_brokers(create: Create, settings: Any) -> None:
    settings.FUNCTORY_MQ_BROKERS = '{"rabbit": {"engine": "rabbitmq", "url": "amqp://h/"}}'
    assert rejected(create, EventSourceArn="arn:aws:s3:::bucket") == "Unrecognized event source."
    assert rejected(create) == "Unrecognized event source."
    assert "queues" in rejected(create, EventSourceArn=BROKER)
    mapping = create(
        EventSourceArn=BROKER,
        Queues=["jobs"],
        SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:x"}],
    )
    assert render.mapping_configuration(mapping)["Queues"] == ["jobs"]


def test_filter_criteria_are_checked(create: Create) -> None:
    message = rejected(
        create, EventSourceArn=QUEUE, FilterCriteria={"Filters": [{"Pattern": '{"body": 1}'}]}
    )
    assert message.startswith("Invalid filter pattern definition.")
    good = {"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]}
    assert create(EventSourceArn=QUEUE, FilterCriteria=good).filter_criteria == good


def test_a_second_mapping_of_the_same_source_and_function_conflicts(create: Create) -> None:
    first = create(EventSourceArn=QUEUE)
    with pytest.raises(ResourceConflict) as excinfo:
        create(EventSourceArn=QUEUE)
    assert excinfo.value.message == (
        f'An event source mapping with SQS arn (" {QUEUE} ") and function (" worker ") already '
        f"exists. Please update or delete the existing mapping with UUID {first.uuid}"
    )
    stream = create(EventSourceArn=STREAM, StartingPosition="LATEST")
    with pytest.raises(ResourceConflict, match=f"provided mapping already exists.*{stream.uuid}"):
        create(EventSourceArn=STREAM, StartingPosition="LATEST")


def test_another_accounts_function_does_not_exist(create: Create, owner: Account) -> None:
    other = Account.objects.create(id=OTHER)
    function_row(other, "theirs")
    for name in ("theirs", f"arn:aws:lambda:us-east-1:{OTHER}:function:theirs", "worker:9"):
        assert rejected(create, EventSourceArn=QUEUE, FunctionName=name) == (
            "Function does not exist"
        )


def test_updates_show_their_transition_then_settle(
    create: Create, django_capture_on_commit_callbacks: Any
) -> None:
    mapping = create(EventSourceArn=QUEUE)
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.mapping_update(mapping=mapping, params={"Enabled": False})
    assert updated.state == "Disabling"
    mapping.refresh_from_db()
    assert mapping.state == "Disabled"
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.mapping_update(mapping=mapping, params={"BatchSize": 5})
    assert updated.state == "Updating"
    mapping.refresh_from_db()
    assert (mapping.state, mapping.batch_size) == ("Disabled", 5)
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.mapping_update(mapping=mapping, params={"Enabled": True})
    assert updated.state == "Enabling"
    mapping.refresh_from_db()
    assert mapping.state == "Enabled"


def test_an_update_is_checked_against_the_settings_in_effect(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE, BatchSize=100, MaximumBatchingWindowInSeconds=5)
    with pytest.raises(InvalidParameterValue, match="Maximum batch window"):
        services.mapping_update(mapping=mapping, params={"MaximumBatchingWindowInSeconds": 0})
    mapping.refresh_from_db()
    assert mapping.maximum_batching_window_in_seconds == 5


def test_a_stale_settle_does_not_undo_a_newer_write(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE)
    services.mapping_update(mapping=mapping, params={"Enabled": False})  # not settled yet
    services.settle(mapping.pk, generation=0)
    mapping.refresh_from_db()
    assert mapping.state == "Disabling"


def test_delete_answers_deleting_then_the_mapping_is_gone(
    create: Create, owner: Account, django_capture_on_commit_callbacks: Any
) -> None:
    mapping = create(EventSourceArn=QUEUE)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = services.mapping_delete(mapping=mapping)
    assert deleted.state == "Deleting"
    with pytest.raises(ResourceNotFound):
        selectors.mapping_get_for_account(owner, str(mapping.uuid))


def test_an_unsettled_delete_refuses_further_writes(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE)
    services.mapping_delete(mapping=mapping)
    with pytest.raises(AWSError) as excinfo:
        services.mapping_update(mapping=mapping, params={"BatchSize": 2})
    assert excinfo.value.code == "ResourceInUseException"


def test_mappings_are_invisible_to_other_accounts(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE)
    other = Account.objects.create(id=OTHER)
    for key in (str(mapping.uuid), "not-a-uuid", "0" * 36):
        with pytest.raises(ResourceNotFound, match=selectors.MAPPING_MISSING):
            selectors.mapping_get_for_account(other, key)
    page, _ = selectors.mapping_list(
        other, event_source_arn=None, function_name=None, marker=None, max_items=10
    )
    assert page == []


def test_listing_filters_and_pages(create: Create, owner: Account, fn: Function) -> None:
    queues = [f"arn:aws:sqs:us-east-1:111122223333:q{i}" for i in range(5)]
    made = [create(EventSourceArn=q) for q in queues]
    function_row(owner, "other")
    create(EventSourceArn=queues[0], FunctionName="other")

    def listing(**kwargs: Any) -> list[EventSourceMapping]:
        found: list[EventSourceMapping] = []
        marker = None
        while True:
            page, marker = selectors.mapping_list(
                owner,
                event_source_arn=kwargs.get("arn"),
                function_name=kwargs.get("function"),
                marker=marker,
                max_items=2,
            )
            found += page
            if marker is None:
                return found

    assert listing(function="worker") == made
    assert len(listing()) == 6
    assert [m.function.name for m in listing(arn=queues[0])] == ["worker", "other"]
    assert listing(function="worker", arn=queues[1]) == [made[1]]
    with pytest.raises(ResourceNotFound):
        listing(function="nobody")
    with pytest.raises(InvalidParameterValue, match="Invalid marker"):
        selectors.mapping_list(
            owner, event_source_arn=None, function_name=None, marker="forged", max_items=2
        )


def test_an_update_can_retarget_the_function_but_not_onto_a_duplicate(
    create: Create, owner: Account, fn: Function
) -> None:
    function_row(owner, "spare")
    first = create(EventSourceArn=QUEUE)
    second = create(EventSourceArn=QUEUE, FunctionName="spare")
    with pytest.raises(ResourceConflict, match=str(first.uuid)):
        services.mapping_update(mapping=second, params={"FunctionName": "worker"})
    with pytest.raises(InvalidParameterValue, match="Function does not exist"):
        services.mapping_update(mapping=second, params={"FunctionName": "ghost"})
    services.mapping_delete(mapping=first)
    services.settle(first.pk, first.generation + 1)
    moved = services.mapping_update(mapping=second, params={"FunctionName": "worker"})
    assert render.mapping_configuration(moved)["FunctionArn"].endswith(":function:worker")


def test_pollers_report_the_last_processing_result(create: Create) -> None:
    mapping = create(EventSourceArn=QUEUE)
    assert "LastProcessingResult" not in render.mapping_configuration(mapping)
    services.set_last_processing_result(mapping.pk, "OK")
    mapping.refresh_from_db()
    assert render.mapping_configuration(mapping)["LastProcessingResult"] == "OK"


def test_clearing_settings_with_empty_values(create: Create) -> None:
    mapping = create(
        EventSourceArn=QUEUE,
        ScalingConfig={"MaximumConcurrency": 5},
        FilterCriteria={"Filters": [{"Pattern": '{"body": ["x"]}'}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    cleared = services.mapping_update(
        mapping=mapping,
        params={"ScalingConfig": {}, "FilterCriteria": {}, "FunctionResponseTypes": []},
    )
    body = render.mapping_configuration(cleared)
    assert "ScalingConfig" not in body
    assert "FilterCriteria" not in body
    assert body["FunctionResponseTypes"] == []


def test_pollers_see_only_mappings_that_deliver(create: Create) -> None:
    on = create(EventSourceArn=QUEUE)
    off = create(EventSourceArn=STREAM, StartingPosition="LATEST", Enabled=False)
    gone = create(EventSourceArn=FIFO)
    services.mapping_delete(mapping=gone)  # Deleting, not yet settled
    assert list(selectors.mappings_delivering()) == [on]
    assert off.delivering is False
