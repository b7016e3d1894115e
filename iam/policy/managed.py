"""AWS managed policies under their own ARNs, written from the contents AWS's managed policy
reference documents (the statements that touch the services this platform serves; actions of
services it does not run are kept where the documents list them, they simply never match a
request here). ``ReadOnlyAccess`` is a subset: AWS's lists hundreds of services.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from iam.policy.document import Policy, PolicyKind, parse_policy

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    description: str
    statements: tuple[dict[str, Any], ...]

    @property
    def arn(self) -> str:
        folder = self.path.strip("/")
        return f"{AWS_POLICY_PREFIX}{folder + '/' if folder else ''}{self.name}"

    @property
    def document(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)}, indent=4)


def _allow(
    actions: list[str] | str, resource: str | list[str] = "*", **extra: Any
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    statement.update(extra)
    return statement


_LOG_WRITES = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

_LAMBDA_CONSOLE_READS = [
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "kms:ListAliases",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoles",
    "logs:DescribeLogGroups",
    "states:DescribeStateMachine",
    "states:ListStateMachines",
    "tag:GetResources",
    "xray:GetTraceSummaries",
    "xray:BatchGetTraces",
]
_LAMBDA_LOG_GROUPS = "arn:aws:logs:*:*:log-group:/aws/lambda/*"
_LOGS_READS = [
    "logs:Describe*",
    "logs:Get*",
    "logs:List*",
    "logs:StartQuery",
    "logs:StopQuery",
    "logs:TestMetricFilter",
    "logs:FilterLogEvents",
    "logs:StartLiveTail",
    "logs:StopLiveTail",
]

POLICIES: tuple[ManagedPolicy, ...] = (
    ManagedPolicy(
        "AWSLambda_FullAccess",
        "/",
        "Grants full access to AWS Lambda service, AWS Lambda console features, and other "
        "related AWS services.",
        (
            _allow([*_LAMBDA_CONSOLE_READS, "lambda:*"]),
            _allow(
                "iam:PassRole",
                Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
            _allow(
                [
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                    "logs:StartLiveTail",
                    "logs:StopLiveTail",
                ],
                _LAMBDA_LOG_GROUPS,
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambda_ReadOnlyAccess",
        "/",
        "Grants read-only access to AWS Lambda service, AWS Lambda console features, and "
        "other related AWS services.",
        (
            _allow(
                [
                    *(a for a in _LAMBDA_CONSOLE_READS),
                    "cloudformation:ListStacks",
                    "lambda:Get*",
                    "lambda:List*",
                ]
            ),
            _allow(
                [
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                    "logs:StartQuery",
                    "logs:StopQuery",
                    "logs:DescribeQueries",
                    "logs:GetLogGroupFields",
                    "logs:GetLogRecord",
                    "logs:GetQueryResults",
                    "logs:StartLiveTail",
                    "logs:StopLiveTail",
                ],
                _LAMBDA_LOG_GROUPS,
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        "Provides write permissions to CloudWatch Logs.",
        (_allow(_LOG_WRITES),),
    ),
    ManagedPolicy(
        "AWSLambdaSQSQueueExecutionRole",
        "/service-role/",
        "Provides receive message, delete message, and read attribute access to SQS queues, "
        "and write permissions to CloudWatch logs.",
        (
            _allow(
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    *_LOG_WRITES,
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambdaKinesisExecutionRole",
        "/service-role/",
        "Provides list and read access to Kinesis streams and write permissions to "
        "CloudWatch logs.",
        (
            _allow(
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:ListStreams",
                    "kinesis:SubscribeToShard",
                    *_LOG_WRITES,
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambdaDynamoDBExecutionRole",
        "/service-role/",
        "Provides list and read access to DynamoDB streams and write permissions to "
        "CloudWatch logs.",
        (
            _allow(
                [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    *_LOG_WRITES,
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambdaVPCAccessExecutionRole",
        "/service-role/",
        "Provides minimum permissions for a Lambda function to execute while accessing a "
        "resource within a VPC.",
        (
            _allow(
                [
                    *_LOG_WRITES,
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AWSLambdaExecute",
        "/",
        "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
        (_allow(["logs:*"], "arn:aws:logs:*:*:*"), _allow(["s3:GetObject", "s3:PutObject"])),
    ),
    ManagedPolicy(
        "AWSLambdaRole",
        "/service-role/",
        "Default policy for AWS Lambda service role.",
        (_allow(["lambda:InvokeFunction"], ["*"]),),
    ),
    ManagedPolicy(
        "CloudWatchReadOnlyAccess",
        "/",
        "Provides read only access to CloudWatch.",
        (
            _allow(
                [
                    "autoscaling:Describe*",
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "cloudwatch:GenerateQuery",
                    *_LOGS_READS,
                    "sns:Get*",
                    "sns:List*",
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "CloudWatchFullAccess",
        "/",
        "Provides full access to CloudWatch.",
        (
            _allow(
                [
                    "autoscaling:Describe*",
                    "cloudwatch:*",
                    "logs:*",
                    "sns:*",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                    "oam:ListSinks",
                ]
            ),
            _allow(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::*:role/aws-service-role/events.amazonaws.com/"
                "AWSServiceRoleForCloudWatchEvents*",
                Condition={"StringLike": {"iam:AWSServiceName": "events.amazonaws.com"}},
            ),
        ),
    ),
    ManagedPolicy(
        "AmazonSQSFullAccess",
        "/",
        "Provides full access to Amazon SQS via the AWS Management Console.",
        (_allow("sqs:*"),),
    ),
    ManagedPolicy(
        "CloudWatchLogsReadOnlyAccess",
        "/",
        "Provides read only access to CloudWatch Logs",
        (_allow([*_LOGS_READS, "cloudwatch:GenerateQuery"]),),
    ),
    ManagedPolicy(
        "CloudWatchLogsFullAccess",
        "/",
        "Provides full access to CloudWatch Logs",
        (_allow(["logs:*", "cloudwatch:GenerateQuery"]),),
    ),
    ManagedPolicy(
        "AmazonEventBridgeFullAccess",
        "/",
        "Provides full access to Amazon EventBridge.",
        (
            _allow(["events:*", "schemas:*", "scheduler:*", "pipes:*"]),
            _allow(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::*:role/aws-service-role/apidestinations.events.amazonaws.com/"
                "AWSServiceRoleForAmazonEventBridgeApiDestinations",
                Condition={
                    "StringEquals": {"iam:AWSServiceName": "apidestinations.events.amazonaws.com"}
                },
            ),
            _allow(
                "iam:PassRole",
                "arn:aws:iam::*:role/*",
                Condition={"StringLike": {"iam:PassedToService": "events.amazonaws.com"}},
            ),
            _allow(
                "iam:PassRole",
                "arn:aws:iam::*:role/*",
                Condition={"StringLike": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
            _allow(
                "iam:PassRole",
                "arn:aws:iam::*:role/*",
                Condition={"StringLike": {"iam:PassedToService": "pipes.amazonaws.com"}},
            ),
        ),
    ),
    ManagedPolicy(
        "AmazonEventBridgeReadOnlyAccess",
        "/",
        "Provides read only access to Amazon EventBridge.",
        (
            _allow(
                [
                    "events:DescribeRule",
                    "events:DescribeEventBus",
                    "events:DescribeEventSource",
                    "events:ListEventBuses",
                    "events:ListEventSources",
                    "events:ListRuleNamesByTarget",
                    "events:ListRules",
                    "events:ListTargetsByRule",
                    "events:TestEventPattern",
                    "events:DescribeArchive",
                    "events:ListArchives",
                    "events:DescribeReplay",
                    "events:ListReplays",
                    "events:DescribeConnection",
                    "events:ListConnections",
                    "events:DescribeApiDestination",
                    "events:ListApiDestinations",
                    "events:DescribeEndpoint",
                    "events:ListEndpoints",
                    "schemas:DescribeCodeBinding",
                    "schemas:DescribeDiscoverer",
                    "schemas:DescribeRegistry",
                    "schemas:DescribeSchema",
                    "schemas:ExportSchema",
                    "schemas:GetCodeBindingSource",
                    "schemas:GetDiscoveredSchema",
                    "schemas:GetResourcePolicy",
                    "schemas:ListDiscoverers",
                    "schemas:ListRegistries",
                    "schemas:ListSchemas",
                    "schemas:ListSchemaVersions",
                    "schemas:ListTagsForResource",
                    "schemas:SearchSchemas",
                    "scheduler:GetSchedule",
                    "scheduler:GetScheduleGroup",
                    "scheduler:ListSchedules",
                    "scheduler:ListScheduleGroups",
                    "scheduler:ListTagsForResource",
                    "pipes:DescribePipe",
                    "pipes:ListPipes",
                    "pipes:ListTagsForResource",
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AmazonSQSReadOnlyAccess",
        "/",
        "Provides read only access to Amazon SQS via the AWS Management Console.",
        (
            _allow(
                [
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ListDeadLetterSourceQueues",
                    "sqs:ListQueues",
                    "sqs:ListMessageMoveTasks",
                    "sqs:ListQueueTags",
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "AdministratorAccess",
        "/",
        "Provides full access to AWS services and resources.",
        (_allow("*"),),
    ),
    ManagedPolicy(
        "PowerUserAccess",
        "/",
        "Provides full access to AWS services and resources, but does not allow management "
        "of Users and groups.",
        (
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            _allow(
                [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:GetAccountInformation",
                    "account:ListRegions",
                ]
            ),
        ),
    ),
    ManagedPolicy(
        "ReadOnlyAccess",
        "/",
        "Provides read-only access to AWS services and resources. (A subset: the services "
        "this platform serves.)",
        (
            _allow(
                [
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "events:Describe*",
                    "events:List*",
                    "events:TestEventPattern",
                    "iam:Generate*",
                    "iam:Get*",
                    "iam:List*",
                    "iam:Simulate*",
                    "lambda:Get*",
                    "lambda:List*",
                    "logs:Describe*",
                    "logs:FilterLogEvents",
                    "logs:Get*",
                    "logs:ListTagsForResource",
                    "logs:ListTagsLogGroup",
                    "logs:StartLiveTail",
                    "logs:StartQuery",
                    "logs:StopLiveTail",
                    "logs:StopQuery",
                    "logs:TestMetricFilter",
                    "scheduler:Get*",
                    "scheduler:List*",
                    "sqs:Get*",
                    "sqs:List*",
                    "sts:GetCallerIdentity",
                    "sts:GetSessionToken",
                    "tag:Get*",
                ]
            ),
        ),
    ),
)

BY_ARN: dict[str, ManagedPolicy] = {policy.arn: policy for policy in POLICIES}


@cache
def managed_policy(arn: str) -> Policy | None:
    """The parsed AWS managed policy with this ARN (parsed once), or None."""
    entry = BY_ARN.get(arn)
    if entry is None:
        return None
    return parse_policy(entry.document, PolicyKind.MANAGED, source=arn, check_size=False)
