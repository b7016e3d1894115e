"""Metric filters, subscription filters, DeleteLogStream and log group tags through boto3."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import client_error, client_for, create_function, create_member, create_user

pytestmark = pytest.mark.live

GROUP = "/app/orders"


@pytest.fixture
def user(functory):
    return create_user(functory)


@pytest.fixture
def logs(functory, user):
    client = client_for(functory, user, "logs")
    client.create_log_group(logGroupName=GROUP)
    return client


@pytest.fixture
def raw_logs(functory, user):
    return client_for(functory, user, "logs", validate=False)


def _transformation(**overrides):
    return {
        "metricName": "Latency",
        "metricNamespace": "Orders",
        "metricValue": "$.latency",
        **overrides,
    }


def _put_metric_filter(logs, name="latency", pattern="{ $.latency > 0 }", **overrides):
    logs.put_metric_filter(
        logGroupName=GROUP,
        filterName=name,
        filterPattern=pattern,
        metricTransformations=[_transformation(**overrides)],
    )


def test_it_puts_describes_replaces_and_deletes_metric_filters(logs):
    _put_metric_filter(logs, unit="Milliseconds", dimensions={"Region": "$.region"})
    (found,) = logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]
    assert found["filterName"] == "latency"
    assert found["filterPattern"] == "{ $.latency > 0 }"
    assert found["logGroupName"] == GROUP
    assert found["metricTransformations"] == [
        _transformation(unit="Milliseconds", dimensions={"Region": "$.region"})
    ]
    assert abs(found["creationTime"] - time.time() * 1000) < 60_000

    _put_metric_filter(logs, metricValue="1", defaultValue=0.0)
    (found,) = logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]
    assert found["metricTransformations"] == [_transformation(metricValue="1", defaultValue=0.0)]
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 1

    logs.delete_metric_filter(logGroupName=GROUP, filterName="latency")
    assert logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"] == []
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 0
    with pytest.raises(ClientError) as excinfo:
        logs.delete_metric_filter(logGroupName=GROUP, filterName="latency")
    assert client_error(excinfo) == (
        "ResourceNotFoundException",
        "The specified resource does not exist.",
        400,
    )


def test_describe_metric_filters_finds_by_prefix_and_by_metric_and_pages(logs):
    logs.create_log_group(logGroupName="/app/other")
    for index in range(5):
        _put_metric_filter(logs, name=f"f-{index}", metricName=f"M{index % 2}")
    logs.put_metric_filter(
        logGroupName="/app/other",
        filterName="elsewhere",
        filterPattern="ERROR",
        metricTransformations=[_transformation(metricName="M0", metricValue="1")],
    )
    names = [
        f["filterName"]
        for f in logs.describe_metric_filters(logGroupName=GROUP, filterNamePrefix="f-")[
            "metricFilters"
        ]
    ]
    assert names == [f"f-{i}" for i in range(5)]
    by_metric = logs.describe_metric_filters(metricName="M0", metricNamespace="Orders")
    assert [(f["logGroupName"], f["filterName"]) for f in by_metric["metricFilters"]] == [
        ("/app/orders", "f-0"),
        ("/app/orders", "f-2"),
        ("/app/orders", "f-4"),
        ("/app/other", "elsewhere"),
    ]
    paged = []
    kwargs = {"limit": 2}
    while True:
        page = logs.describe_metric_filters(**kwargs)
        assert len(page["metricFilters"]) <= 2
        paged += [f["filterName"] for f in page["metricFilters"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert paged == ["f-0", "f-1", "f-2", "f-3", "f-4", "elsewhere"]
    with pytest.raises(ClientError) as excinfo:
        logs.describe_metric_filters(nextToken="forged")
    assert client_error(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.describe_metric_filters(metricName="M0")
    assert client_error(excinfo)[0] == "InvalidParameterException"


@pytest.mark.parametrize(
    ("pattern", "transformation"),
    [
        ("ERROR", _transformation()),  # a text pattern extracts nothing
        ("{ $.a = 1 }", _transformation(metricValue="many")),
        (
            "{ $.a = 1 }",
            _transformation(dimensions={"A": "$.a", "B": "$.b", "C": "$.c", "D": "$.d"}),
        ),
        ("{ $.a = 1 }", _transformation(dimensions={"A": "$.a"}, defaultValue=0.0)),
        ("[ip, user]", _transformation(metricValue="$status")),
        ("{ $.a = ", _transformation()),
        ('{ $.a = "x" ' + "&& $.a = 1 " * 200 + "}", _transformation()),
    ],
)
def test_put_metric_filter_refuses_what_aws_refuses(logs, pattern, transformation):
    with pytest.raises(ClientError) as excinfo:
        logs.put_metric_filter(
            logGroupName=GROUP,
            filterName="bad",
            filterPattern=pattern,
            metricTransformations=[transformation],
        )
    code, _, status = client_error(excinfo)
    assert (code, status) == ("InvalidParameterException", 400)
    assert logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"] == []


def test_a_group_holds_at_most_one_hundred_metric_filters(logs):
    for index in range(100):
        _put_metric_filter(logs, name=f"f{index:03d}")
    with pytest.raises(ClientError) as excinfo:
        _put_metric_filter(logs, name="one-more")
    assert client_error(excinfo) == ("LimitExceededException", "Resource limit exceeded.", 400)
    _put_metric_filter(logs, name="f000", metricValue="2")  # replacing one still works


def test_metric_filters_of_a_missing_group_are_not_found(logs):
    with pytest.raises(ClientError) as excinfo:
        logs.put_metric_filter(
            logGroupName="/nope",
            filterName="f",
            filterPattern="",
            metricTransformations=[_transformation(metricValue="1")],
        )
    assert client_error(excinfo)[0] == "ResourceNotFoundException"


def test_test_metric_filter_reports_matches_with_their_extracted_values(logs):
    matches = logs.test_metric_filter(
        filterPattern="[ip, user, status=4*, size]",
        logEventMessages=[
            "127.0.0.1 frank 404 2326",
            "127.0.0.1 frank 200 2326",
            "10.0.0.2 - 401 12",
        ],
    )["matches"]
    assert matches == [
        {
            "eventNumber": 1,
            "eventMessage": "127.0.0.1 frank 404 2326",
            "extractedValues": {
                "$ip": "127.0.0.1",
                "$user": "frank",
                "$status": "404",
                "$size": "2326",
            },
        },
        {
            "eventNumber": 3,
            "eventMessage": "10.0.0.2 - 401 12",
            "extractedValues": {"$ip": "10.0.0.2", "$user": "-", "$status": "401", "$size": "12"},
        },
    ]
    json_matches = logs.test_metric_filter(
        filterPattern="{ $.level = ERROR }", logEventMessages=['{"level": "ERROR"}', "x"]
    )["matches"]
    assert [(m["eventNumber"], m["extractedValues"]) for m in json_matches] == [(1, {})]


def test_test_metric_filter_takes_at_most_fifty_messages(raw_logs):
    with pytest.raises(ClientError) as excinfo:
        raw_logs.test_metric_filter(filterPattern="x", logEventMessages=["x"] * 51)
    assert client_error(excinfo)[0] == "InvalidParameterException"


# ---- subscription filters --------------------------------------------------------------------


def _function(functory, user, name: str, *, allow_logs: bool = True) -> str:
    lam = client_for(functory, user)
    arn = create_function(lam, name)["FunctionArn"]
    if allow_logs:
        lam.add_permission(
            FunctionName=name,
            StatementId="logs",
            Action="lambda:InvokeFunction",
            Principal="logs.amazonaws.com",
            SourceArn=f"arn:aws:logs:us-east-1:{user.account_id}:log-group:{GROUP}:*",
        )
    return arn


def test_it_puts_describes_and_deletes_subscription_filters(functory, user, logs):
    arn = _function(functory, user, "shipper")
    logs.put_subscription_filter(
        logGroupName=GROUP, filterName="ship", filterPattern="ERROR", destinationArn=arn
    )
    (found,) = logs.describe_subscription_filters(logGroupName=GROUP)["subscriptionFilters"]
    assert {k: found[k] for k in ("filterName", "logGroupName", "filterPattern")} == {
        "filterName": "ship",
        "logGroupName": GROUP,
        "filterPattern": "ERROR",
    }
    assert found["destinationArn"] == arn
    assert found["distribution"] == "ByLogStream"
    logs.put_subscription_filter(
        logGroupName=GROUP,
        filterName="ship",
        filterPattern="",
        destinationArn=arn,
        distribution="Random",
    )
    (found,) = logs.describe_subscription_filters(logGroupName=GROUP)["subscriptionFilters"]
    assert (found["filterPattern"], found["distribution"]) == ("", "Random")
    logs.delete_subscription_filter(logGroupName=GROUP, filterName="ship")
    assert logs.describe_subscription_filters(logGroupName=GROUP)["subscriptionFilters"] == []
    with pytest.raises(ClientError) as excinfo:
        logs.delete_subscription_filter(logGroupName=GROUP, filterName="ship")
    assert client_error(excinfo)[0] == "ResourceNotFoundException"


def test_a_function_whose_policy_does_not_allow_cloudwatch_logs_is_refused(functory, user, logs):
    arn = _function(functory, user, "private", allow_logs=False)
    missing = arn.replace(":private", ":missing")
    other_account = arn.replace(user.account_id, "999999999999")
    for destination in (arn, missing, other_account):
        with pytest.raises(ClientError) as excinfo:
            logs.put_subscription_filter(
                logGroupName=GROUP, filterName="s", filterPattern="", destinationArn=destination
            )
        assert client_error(excinfo) == (
            "InvalidParameterException",
            "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
            "permission to execute your function.",
            400,
        )
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=GROUP,
            filterName="s",
            filterPattern="",
            destinationArn=f"arn:aws:kinesis:us-east-1:{user.account_id}:stream/s",
        )
    assert client_error(excinfo)[0] == "InvalidParameterException"


def test_a_group_holds_at_most_two_subscription_filters(functory, user, logs):
    arn = _function(functory, user, "shipper")
    for name in ("one", "two"):
        logs.put_subscription_filter(
            logGroupName=GROUP, filterName=name, filterPattern="", destinationArn=arn
        )
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=GROUP, filterName="three", filterPattern="", destinationArn=arn
        )
    assert client_error(excinfo) == ("LimitExceededException", "Resource limit exceeded.", 400)
    page = logs.describe_subscription_filters(logGroupName=GROUP, limit=1)
    assert [f["filterName"] for f in page["subscriptionFilters"]] == ["one"]
    rest = logs.describe_subscription_filters(logGroupName=GROUP, nextToken=page["nextToken"])
    assert [f["filterName"] for f in rest["subscriptionFilters"]] == ["two"]


# ---- DeleteLogStream ---------------------------------------------------------------------------


def test_delete_log_stream_takes_its_events_and_nothing_else(logs):
    now = int(time.time() * 1000)
    for stream in ("gone", "kept"):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now, "message": f"needle in {stream}"}],
        )
    logs.delete_log_stream(logGroupName=GROUP, logStreamName="gone")
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["kept"]
    found = logs.filter_log_events(logGroupName=GROUP, filterPattern="needle")["events"]
    assert [e["message"] for e in found] == ["needle in kept"]
    with pytest.raises(ClientError) as excinfo:
        logs.delete_log_stream(logGroupName=GROUP, logStreamName="gone")
    assert client_error(excinfo) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
        400,
    )
    # A stream of the same name starts empty.
    logs.create_log_stream(logGroupName=GROUP, logStreamName="gone")
    assert logs.get_log_events(logGroupName=GROUP, logStreamName="gone")["events"] == []


# ---- tags ------------------------------------------------------------------------------------


def test_it_tags_and_untags_a_log_group_both_ways(logs, user):
    arn = f"arn:aws:logs:us-east-1:{user.account_id}:log-group:{GROUP}"
    logs.tag_resource(resourceArn=arn, tags={"team": "orders", "env": "prod"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "orders",
        "env": "prod",
    }
    logs.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert logs.list_tags_log_group(logGroupName=GROUP)["tags"] == {"team": "orders"}
    logs.tag_log_group(logGroupName=GROUP, tags={"cost": "42"})
    logs.untag_log_group(logGroupName=GROUP, tags=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost": "42"}

    logs.create_log_group(logGroupName="/tagged", tags={"a": "1"})
    assert logs.list_tags_log_group(logGroupName="/tagged")["tags"] == {"a": "1"}


def test_tags_are_limited_as_on_aws(logs, raw_logs, user):
    arn = f"arn:aws:logs:us-east-1:{user.account_id}:log-group:{GROUP}"
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(45)})
    with pytest.raises(ClientError) as excinfo:
        logs.tag_resource(resourceArn=arn, tags={f"n{i}": "v" for i in range(6)})
    assert client_error(excinfo)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as excinfo:
        logs.tag_log_group(logGroupName=GROUP, tags={f"n{i}": "v" for i in range(6)})
    assert client_error(excinfo)[0] == "InvalidParameterException"
    for tags in ({"aws:owner": "x"}, {"k" * 129: "v"}, {"k": "v" * 257}):
        with pytest.raises(ClientError) as excinfo:
            raw_logs.tag_resource(resourceArn=arn, tags=tags)
        assert client_error(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        raw_logs.create_log_group(logGroupName="/aws-tagged", tags={"aws:x": "y"})
    assert client_error(excinfo)[0] == "InvalidParameterException"
    assert len(logs.list_tags_for_resource(resourceArn=arn)["tags"]) == 45
    # Another account's group is another account's business; a missing one of ours is not
    # found.
    with pytest.raises(ClientError) as excinfo:
        logs.list_tags_for_resource(
            resourceArn="arn:aws:logs:us-east-1:999999999999:log-group:" + GROUP
        )
    assert client_error(excinfo)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        logs.list_tags_for_resource(resourceArn=arn + "-missing")
    assert client_error(excinfo)[0] == "ResourceNotFoundException"


def test_a_user_may_manage_filters_only_as_its_policy_says(functory, user, logs):
    member = create_member(functory, admin=user)
    client_for(functory, user, "iam").put_user_policy(
        UserName=member.user_name,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:DescribeMetricFilters", "logs:TestMetricFilter"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    reader = client_for(functory, member, "logs")
    _put_metric_filter(logs)
    assert len(reader.describe_metric_filters(logGroupName=GROUP)["metricFilters"]) == 1
    assert reader.test_metric_filter(filterPattern="x", logEventMessages=["x"])["matches"]
    for call in (
        lambda: reader.delete_metric_filter(logGroupName=GROUP, filterName="latency"),
        lambda: reader.delete_log_stream(logGroupName=GROUP, logStreamName="s"),
        lambda: reader.list_tags_log_group(logGroupName=GROUP),
        lambda: reader.put_subscription_filter(
            logGroupName=GROUP, filterName="s", filterPattern="", destinationArn="arn:x"
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert client_error(excinfo)[0] == "AccessDeniedException"


def test_a_policy_may_allow_only_groups_with_a_tag(functory, user, logs):
    logs.create_log_group(logGroupName="/untagged")
    logs.tag_log_group(logGroupName=GROUP, tags={"team": "orders"})
    member = create_member(functory, admin=user)
    client_for(functory, user, "iam").put_user_policy(
        UserName=member.user_name,
        PolicyName="team",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "logs:PutMetricFilter",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/team": "orders"}},
                    }
                ],
            }
        ),
    )
    member_logs = client_for(functory, member, "logs")
    transformation = [_transformation(metricValue="1")]
    member_logs.put_metric_filter(
        logGroupName=GROUP, filterName="f", filterPattern="", metricTransformations=transformation
    )
    with pytest.raises(ClientError) as excinfo:
        member_logs.put_metric_filter(
            logGroupName="/untagged",
            filterName="f",
            filterPattern="",
            metricTransformations=transformation,
        )
    assert client_error(excinfo)[0] == "AccessDeniedException"


def test_ten_thousand_events_with_filters_present_are_stored_and_counted(functory, user, logs):
    _put_metric_filter(logs, name="count", pattern="[ip, status=5*, size]", metricValue="$size")
    _put_metric_filter(logs, name="hostile", pattern='{ $.a = "' + "*" * 900 + '" }')
    logs.create_log_stream(logGroupName=GROUP, logStreamName="big")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="big",
        logEvents=[
            {"timestamp": now, "message": f"10.0.0.1 {500 + i % 3} {i % 7}"} for i in range(10_000)
        ],
    )
    cloudwatch = client_for(functory, user, "cloudwatch")
    start = time.time() - 600
    stats = cloudwatch.get_metric_statistics(
        Namespace="Orders",
        MetricName="Latency",
        StartTime=start,
        EndTime=time.time() + 300,
        Period=3600,
        Statistics=["SampleCount", "Sum"],
    )
    (point,) = stats["Datapoints"]
    expected = [i % 7 for i in range(10_000)]
    assert (point["SampleCount"], point["Sum"]) == (len(expected), float(sum(expected)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metricName": "M0"}, "you must also specify a metric namespace"),
        ({"metricNamespace": "Orders"}, "you must also specify a metric namespace"),
        ({"filterNamePrefix": "f-"}, "you must also specify logGroupName"),
    ],
)
def test_describe_metric_filters_refuses_half_a_pair_of_parameters(logs, params, message):
    with pytest.raises(ClientError) as error:
        logs.describe_metric_filters(**params)
    code, text, status = client_error(error)
    assert (code, status) == ("InvalidParameterException", 400)
    assert message in text
