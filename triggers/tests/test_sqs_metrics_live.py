"""Event source mapping metrics end to end: an SQS mapping with MetricsConfig EventCount on a
live server (real sandbox), its queue on a moto server, and its counts read back through
boto3's CloudWatch GetMetricStatistics under the EventSourceMappingUUID dimension."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import AwsPeer, LiveServer, client_for, run_server
from triggers.tests.test_sqs_live import Tenant, wait_for

pytestmark = pytest.mark.live

CODE = """
def handler(event, context):
    for record in event["Records"]:
        print("got", record["messageId"], record["attributes"]["ApproximateReceiveCount"],
              record["body"])
"""


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    env = {**aws_peer.env, "FUNCTORY_METRICS_FLUSH_SECONDS": "1"}
    yield from run_server(tmp_path_factory, env)


def test_get_metric_statistics_answers_a_mappings_event_counts(
    functory: LiveServer, aws_peer: AwsPeer
) -> None:
    tenant = Tenant(functory, aws_peer)
    cloudwatch = client_for(functory, tenant.credentials, "cloudwatch")
    name = tenant.function(CODE)
    url, arn = tenant.queue()
    counted = tenant.lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
        MetricsConfig={"Metrics": ["EventCount"]},
    )
    assert counted["MetricsConfig"] == {"Metrics": ["EventCount"]}
    kept = [json.dumps({"keep": True, "n": n}) for n in range(5)]
    tenant.send(url, [*kept, json.dumps({"keep": False}), json.dumps({"other": 1})])

    def total(metric: str, uuid: str) -> float:
        now = dt.datetime.now(dt.UTC)
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": "EventSourceMappingUUID", "Value": uuid}],
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=2),
            Period=60,
            Statistics=["Sum"],
        )
        assert all(point["Unit"] == "Count" for point in answer["Datapoints"])
        return sum(point["Sum"] for point in answer["Datapoints"])

    def totals(uuid: str) -> dict[str, float]:
        metrics = ("InvokedEventCount", "FilteredOutEventCount", "DeletedEventCount")
        return {metric: total(metric, uuid) for metric in metrics}

    wanted = {"InvokedEventCount": 5, "FilteredOutEventCount": 2, "DeletedEventCount": 7}
    wait_for(lambda: totals(counted["UUID"]) == wanted, timeout=90, what="the event counts")
    assert total("PolledEventCount", counted["UUID"]) >= 7
    assert total("FailedInvokeEventCount", counted["UUID"]) == 0
    assert len(tenant.lines(name)) == 5

    # A mapping without MetricsConfig publishes none, and another account sees none.
    url2, arn2 = tenant.queue()
    quiet = tenant.lam.create_event_source_mapping(EventSourceArn=arn2, FunctionName=name)
    tenant.send(url2, [json.dumps({"keep": True})])
    wait_for(lambda: tenant.counts(url2) == (0, 0), timeout=90, what="the second queue drained")
    assert totals(quiet["UUID"]) == dict.fromkeys(wanted, 0)
    stranger = Tenant(functory, aws_peer)
    other: Any = client_for(functory, stranger.credentials, "cloudwatch")
    now = dt.datetime.now(dt.UTC)
    answer = other.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="InvokedEventCount",
        Dimensions=[{"Name": "EventSourceMappingUUID", "Value": counted["UUID"]}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=2),
        Period=60,
        Statistics=["Sum"],
    )
    assert answer["Datapoints"] == []
