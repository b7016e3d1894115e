"""A function publishes custom metrics with boto3 and its execution role's credentials, as
on AWS; the role's policy decides which namespaces (``cloudwatch:namespace``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import LiveServer, client_for, make_zip
from iam.tests.test_iam_api import create_admin

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

PUBLISHER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="Orders/Worker",
        MetricData=[{
            "MetricName": "Processed",
            "Dimensions": [{"Name": "Function", "Value": context.function_name}],
            "Values": [3.0, 4.0],
            "Unit": "Count",
        }],
    )
    try:
        cloudwatch.put_metric_data(
            Namespace="Someone/Else", MetricData=[{"MetricName": "x", "Value": 1.0}]
        )
        elsewhere = "published"
    except ClientError as error:
        elsewhere = error.response["Error"]["Code"]
    return {"elsewhere": elsewhere}
"""

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# Only its own namespace, as a role's policy usually says.
PUBLISH_OWN_NAMESPACE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "Orders/Worker"}},
        }
    ],
}


def test_a_function_publishes_metrics_with_its_role_and_the_account_reads_them(
    functory: LiveServer,
) -> None:
    admin = create_admin(functory)
    iam = client_for(functory, admin, "iam")
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(
        RoleName="worker",
        PolicyName="metrics",
        PolicyDocument=json.dumps(PUBLISH_OWN_NAMESPACE),
    )
    lam = client_for(functory, admin)
    lam.create_function(
        FunctionName="worker",
        Runtime="python3.11",
        Handler="app.handler",
        Role=role["Role"]["Arn"],
        Code={"ZipFile": make_zip({"app.py": PUBLISHER})},
        Timeout=30,
    )
    response = lam.invoke(FunctionName="worker", Payload=b"{}")
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    # The policy allows only its own namespace: the other is refused as AWS refuses it.
    assert json.loads(body) == {"elsewhere": "AccessDenied"}

    cloudwatch = client_for(functory, admin, "cloudwatch")
    now = dt.datetime.now(dt.UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="Orders/Worker",
        MetricName="Processed",
        Dimensions=[{"Name": "Function", "Value": "worker"}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=1),
        Period=300,
        Statistics=["Sum", "SampleCount"],
    )
    (point,) = stats["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Unit"]) == (7.0, 2.0, "Count")
    listed = cloudwatch.list_metrics(Namespace="Someone/Else")["Metrics"]
    assert listed == []
