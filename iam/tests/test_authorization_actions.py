"""Operation → IAM action, resource ARNs and condition keys, case by case, as AWS's Service
Authorization Reference and the services' documentation give them.

The caller is in account 111122223333, region us-east-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from iam.authorization import (
    RESOURCE_TAG,
    Authorization,
    ConditionValue,
    Scope,
    UnknownOperation,
    UnparsableResource,
    authorizations,
)

SCOPE = Scope(region="us-east-1", account="111122223333")
FN = "arn:aws:lambda:us-east-1:111122223333:function"
LAYER = "arn:aws:lambda:us-east-1:111122223333:layer"
ESM = "arn:aws:lambda:us-east-1:111122223333:event-source-mapping"
LOGS = "arn:aws:logs:us-east-1:111122223333:log-group"
EVENTS = "arn:aws:events:us-east-1:111122223333"
ROLE = "arn:aws:iam::111122223333:role/lambda-role"
ALARM = "arn:aws:cloudwatch:us-east-1:111122223333:alarm"
CSC = "arn:aws:lambda:us-east-1:111122223333:code-signing-config:csc-1"
TAGGED = (RESOURCE_TAG,)


def auth(
    action: str,
    *resources: str,
    conditions: dict[str, ConditionValue] | None = None,
    keys: tuple[str, ...] = (),
    dependent: bool = False,
    only_if_tagged: bool = False,
) -> Authorization:
    return Authorization(action, resources, conditions or {}, keys, dependent, only_if_tagged)


@dataclass(frozen=True)
class Case:
    name: str
    service: str
    operation: str
    params: dict[str, Any]
    expected: tuple[Authorization, ...]


def fn(action: str, arn: str, **kwargs: Any) -> Authorization:
    """A Lambda function action, whose resources carry aws:ResourceTag."""
    kwargs.setdefault("keys", TAGGED)
    return auth(action, arn, **kwargs)


PASS_ROLE = auth(
    "iam:PassRole",
    ROLE,
    conditions={"iam:PassedToService": "lambda.amazonaws.com"},
    dependent=True,
)

LIST_TAGS_IF_TAGGED = fn("lambda:ListTags", f"{FN}:f", dependent=True, only_if_tagged=True)

CASES = [
    # ---- Invoke: the qualifier makes the version/alias ARN ----
    Case(
        "invoke by name",
        "lambda",
        "Invoke",
        {"FunctionName": "f"},
        (fn("lambda:InvokeFunction", f"{FN}:f"),),
    ),
    Case(
        "invoke an alias by Qualifier",
        "lambda",
        "Invoke",
        {"FunctionName": "f", "Qualifier": "prod"},
        (fn("lambda:InvokeFunction", f"{FN}:f:prod"),),
    ),
    Case(
        "invoke a version named in FunctionName",
        "lambda",
        "Invoke",
        {"FunctionName": "f:3"},
        (fn("lambda:InvokeFunction", f"{FN}:f:3"),),
    ),
    Case(
        "invoke $LATEST explicitly",
        "lambda",
        "Invoke",
        {"FunctionName": "f", "Qualifier": "$LATEST"},
        (fn("lambda:InvokeFunction", f"{FN}:f:$LATEST"),),
    ),
    Case(
        "invoke by partial ARN",
        "lambda",
        "Invoke",
        {"FunctionName": "111122223333:function:f"},
        (fn("lambda:InvokeFunction", f"{FN}:f"),),
    ),
    Case(
        "invoke by partial ARN of another account keeps that account",
        "lambda",
        "Invoke",
        {"FunctionName": "444455556666:function:f"},
        (fn("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:444455556666:function:f"),),
    ),
    Case(
        "invoke by full ARN of another account keeps the account",
        "lambda",
        "Invoke",
        {"FunctionName": "arn:aws:lambda:us-east-1:444455556666:function:f:live"},
        (fn("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:444455556666:function:f:live"),),
    ),
    Case(
        # The API resolves a function ARN of any region to the function here: the ARN
        # evaluated is that function's, so a Deny on it cannot be stepped around.
        "invoke by full ARN of another region is the function in this region",
        "lambda",
        "Invoke",
        {"FunctionName": "arn:aws-cn:lambda:eu-west-1:111122223333:function:secret"},
        (fn("lambda:InvokeFunction", f"{FN}:secret"),),
    ),
    Case(
        "invoke full ARN with the same qualifier twice",
        "lambda",
        "Invoke",
        {"FunctionName": f"{FN}:f:prod", "Qualifier": "prod"},
        (fn("lambda:InvokeFunction", f"{FN}:f:prod"),),
    ),
    Case(
        "streaming invoke is InvokeFunction",
        "lambda",
        "InvokeWithResponseStream",
        {"FunctionName": "f", "Qualifier": "2"},
        (fn("lambda:InvokeFunction", f"{FN}:f:2"),),
    ),
    Case(
        "the 2014 InvokeAsync is its own action",
        "lambda",
        "InvokeAsync",
        {"FunctionName": "f"},
        (fn("lambda:InvokeAsync", f"{FN}:f"),),
    ),
    # ---- function reads and writes ----
    Case(
        "GetFunction of an alias",
        "lambda",
        "GetFunction",
        {"FunctionName": "f", "Qualifier": "prod"},
        # Tags belong to the function: ListTags (needed only when it has tags) acts on it.
        (fn("lambda:GetFunction", f"{FN}:f:prod"), LIST_TAGS_IF_TAGGED),
    ),
    Case(
        "GetFunction unqualified",
        "lambda",
        "GetFunction",
        {"FunctionName": f"{FN}:f"},
        (fn("lambda:GetFunction", f"{FN}:f"), LIST_TAGS_IF_TAGGED),
    ),
    Case(
        "GetFunctionConfiguration of a version",
        "lambda",
        "GetFunctionConfiguration",
        {"FunctionName": "f", "Qualifier": "7"},
        (fn("lambda:GetFunctionConfiguration", f"{FN}:f:7"),),
    ),
    Case(
        "DeleteFunction of a version",
        "lambda",
        "DeleteFunction",
        {"FunctionName": "f:4"},
        (fn("lambda:DeleteFunction", f"{FN}:f:4"),),
    ),
    Case(
        "GetPolicy of an alias",
        "lambda",
        "GetPolicy",
        {"FunctionName": "f", "Qualifier": "prod"},
        (fn("lambda:GetPolicy", f"{FN}:f:prod"),),
    ),
    Case(
        "UpdateFunctionCode acts on the function",
        "lambda",
        "UpdateFunctionCode",
        {"FunctionName": "f"},
        (fn("lambda:UpdateFunctionCode", f"{FN}:f"),),
    ),
    Case(
        "UpdateFunctionCode by partial ARN",
        "lambda",
        "UpdateFunctionCode",
        {"FunctionName": "111122223333:function:f"},
        (fn("lambda:UpdateFunctionCode", f"{FN}:f"),),
    ),
    Case(
        "PublishVersion acts on the function",
        "lambda",
        "PublishVersion",
        {"FunctionName": "f"},
        (fn("lambda:PublishVersion", f"{FN}:f"),),
    ),
    Case(
        "ListVersionsByFunction by full ARN",
        "lambda",
        "ListVersionsByFunction",
        {"FunctionName": f"{FN}:f"},
        (fn("lambda:ListVersionsByFunction", f"{FN}:f"),),
    ),
    Case(
        "ListFunctions has no resource",
        "lambda",
        "ListFunctions",
        {},
        (auth("lambda:ListFunctions", "*"),),
    ),
    Case(
        "GetAccountSettings has no resource",
        "lambda",
        "GetAccountSettings",
        {},
        (auth("lambda:GetAccountSettings", "*"),),
    ),
    # ---- aliases act on the function ----
    Case(
        "CreateAlias",
        "lambda",
        "CreateAlias",
        {"FunctionName": "f", "Name": "prod", "FunctionVersion": "1"},
        (fn("lambda:CreateAlias", f"{FN}:f"),),
    ),
    Case(
        "GetAlias",
        "lambda",
        "GetAlias",
        {"FunctionName": "f", "Name": "prod"},
        (fn("lambda:GetAlias", f"{FN}:f"),),
    ),
    Case(
        "UpdateAlias",
        "lambda",
        "UpdateAlias",
        {"FunctionName": "f", "Name": "prod"},
        (fn("lambda:UpdateAlias", f"{FN}:f"),),
    ),
    Case(
        "DeleteAlias",
        "lambda",
        "DeleteAlias",
        {"FunctionName": "f", "Name": "prod"},
        (fn("lambda:DeleteAlias", f"{FN}:f"),),
    ),
    Case(
        "ListAliases",
        "lambda",
        "ListAliases",
        {"FunctionName": "f"},
        (fn("lambda:ListAliases", f"{FN}:f"),),
    ),
    # ---- concurrency ----
    Case(
        "PutFunctionConcurrency",
        "lambda",
        "PutFunctionConcurrency",
        {"FunctionName": "f", "ReservedConcurrentExecutions": 5},
        (fn("lambda:PutFunctionConcurrency", f"{FN}:f"),),
    ),
    Case(
        "GetFunctionConcurrency",
        "lambda",
        "GetFunctionConcurrency",
        {"FunctionName": "f"},
        (fn("lambda:GetFunctionConcurrency", f"{FN}:f"),),
    ),
    Case(
        "DeleteFunctionConcurrency",
        "lambda",
        "DeleteFunctionConcurrency",
        {"FunctionName": "f"},
        (fn("lambda:DeleteFunctionConcurrency", f"{FN}:f"),),
    ),
    # ---- create/update with lambda:Layer, VPC, signing, tags, PassRole ----
    Case(
        "CreateFunction passes its role",
        "lambda",
        "CreateFunction",
        {"FunctionName": "f", "Role": ROLE, "Runtime": "python3.12"},
        (auth("lambda:CreateFunction", f"{FN}:f"), PASS_ROLE),
    ),
    Case(
        "CreateFunction with layers, VPC, signing config and tags",
        "lambda",
        "CreateFunction",
        {
            "FunctionName": "f",
            "Role": ROLE,
            "Layers": [f"{LAYER}:deps:3", "arn:aws:lambda:us-east-1:444455556666:layer:x:1"],
            "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1", "sg-2"]},
            "CodeSigningConfigArn": CSC,
            "Tags": {"team": "blue", "env": "dev"},
        },
        (
            auth(
                "lambda:CreateFunction",
                f"{FN}:f",
                conditions={
                    "lambda:Layer": (
                        f"{LAYER}:deps:3",
                        "arn:aws:lambda:us-east-1:444455556666:layer:x:1",
                    ),
                    "lambda:SubnetIds": ("subnet-1",),
                    "lambda:SecurityGroupIds": ("sg-1", "sg-2"),
                    "lambda:CodeSigningConfigArn": CSC,
                    "aws:RequestTag/team": "blue",
                    "aws:RequestTag/env": "dev",
                    "aws:TagKeys": ("team", "env"),
                },
            ),
            PASS_ROLE,
            auth("lambda:GetLayerVersion", f"{LAYER}:deps:3", dependent=True),
            auth(
                "lambda:GetLayerVersion",
                "arn:aws:lambda:us-east-1:444455556666:layer:x:1",
                dependent=True,
            ),
            auth(
                "lambda:TagResource",
                f"{FN}:f",
                conditions={
                    "aws:RequestTag/team": "blue",
                    "aws:RequestTag/env": "dev",
                    "aws:TagKeys": ("team", "env"),
                },
                dependent=True,
            ),
        ),
    ),
    Case(
        "UpdateFunctionConfiguration with layers",
        "lambda",
        "UpdateFunctionConfiguration",
        {"FunctionName": "f", "Layers": [f"{LAYER}:deps:4"]},
        (
            fn(
                "lambda:UpdateFunctionConfiguration",
                f"{FN}:f",
                conditions={"lambda:Layer": (f"{LAYER}:deps:4",)},
            ),
            auth("lambda:GetLayerVersion", f"{LAYER}:deps:4", dependent=True),
        ),
    ),
    Case(
        "UpdateFunctionConfiguration removing every layer",
        "lambda",
        "UpdateFunctionConfiguration",
        {"FunctionName": "f", "Layers": []},
        (fn("lambda:UpdateFunctionConfiguration", f"{FN}:f", conditions={"lambda:Layer": ()}),),
    ),
    Case(
        "UpdateFunctionConfiguration changing the role passes it",
        "lambda",
        "UpdateFunctionConfiguration",
        {"FunctionName": "f", "Role": ROLE, "Timeout": 9},
        (fn("lambda:UpdateFunctionConfiguration", f"{FN}:f"), PASS_ROLE),
    ),
    # ---- resource policy ----
    Case(
        "AddPermission for a service on an alias",
        "lambda",
        "AddPermission",
        {
            "FunctionName": "f",
            "Qualifier": "prod",
            "StatementId": "s3",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
        },
        (
            fn(
                "lambda:AddPermission",
                f"{FN}:f:prod",
                conditions={"lambda:Principal": "s3.amazonaws.com"},
            ),
        ),
    ),
    Case(
        "AddPermission for a function URL",
        "lambda",
        "AddPermission",
        {
            "FunctionName": "f",
            "StatementId": "url",
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
        (
            fn(
                "lambda:AddPermission",
                f"{FN}:f",
                conditions={"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"},
            ),
        ),
    ),
    Case(
        "AddPermission limited to invocations through the function URL",
        "lambda",
        "AddPermission",
        {
            "FunctionName": "f",
            "StatementId": "url",
            "Action": "lambda:InvokeFunction",
            "Principal": "444455556666",
            "InvokedViaFunctionUrl": True,
        },
        (
            fn(
                "lambda:AddPermission",
                f"{FN}:f",
                conditions={
                    "lambda:Principal": "444455556666",
                    "lambda:InvokedViaFunctionUrl": "true",
                },
            ),
        ),
    ),
    Case(
        "RemovePermission takes its keys from the statement",
        "lambda",
        "RemovePermission",
        {"FunctionName": "f", "StatementId": "s3"},
        (
            fn(
                "lambda:RemovePermission",
                f"{FN}:f",
                keys=("lambda:Principal", "lambda:FunctionUrlAuthType", RESOURCE_TAG),
            ),
        ),
    ),
    # ---- function URLs ----
    Case(
        "CreateFunctionUrlConfig on an alias",
        "lambda",
        "CreateFunctionUrlConfig",
        {"FunctionName": "f", "Qualifier": "prod", "AuthType": "AWS_IAM"},
        (
            fn(
                "lambda:CreateFunctionUrlConfig",
                f"{FN}:f:prod",
                conditions={
                    "lambda:FunctionArn": f"{FN}:f:prod",
                    "lambda:FunctionUrlAuthType": "AWS_IAM",
                },
            ),
        ),
    ),
    Case(
        "UpdateFunctionUrlConfig without AuthType uses the stored one",
        "lambda",
        "UpdateFunctionUrlConfig",
        {"FunctionName": "f", "Cors": {}},
        (
            fn(
                "lambda:UpdateFunctionUrlConfig",
                f"{FN}:f",
                conditions={"lambda:FunctionArn": f"{FN}:f"},
                keys=("lambda:FunctionUrlAuthType", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "GetFunctionUrlConfig",
        "lambda",
        "GetFunctionUrlConfig",
        {"FunctionName": "f"},
        (
            fn(
                "lambda:GetFunctionUrlConfig",
                f"{FN}:f",
                conditions={"lambda:FunctionArn": f"{FN}:f"},
                keys=("lambda:FunctionUrlAuthType", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "DeleteFunctionUrlConfig on an alias",
        "lambda",
        "DeleteFunctionUrlConfig",
        {"FunctionName": "f", "Qualifier": "prod"},
        (
            fn(
                "lambda:DeleteFunctionUrlConfig",
                f"{FN}:f:prod",
                conditions={"lambda:FunctionArn": f"{FN}:f:prod"},
                keys=("lambda:FunctionUrlAuthType", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "ListFunctionUrlConfigs",
        "lambda",
        "ListFunctionUrlConfigs",
        {"FunctionName": "f"},
        (
            fn(
                "lambda:ListFunctionUrlConfigs",
                f"{FN}:f",
                keys=("lambda:FunctionUrlAuthType", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "a request to an alias's function URL",
        "lambda",
        "InvokeFunctionUrl",
        {"FunctionName": "f", "Qualifier": "prod", "AuthType": "NONE"},
        (
            fn(
                "lambda:InvokeFunctionUrl",
                f"{FN}:f:prod",
                conditions={
                    "lambda:FunctionArn": f"{FN}:f:prod",
                    "lambda:FunctionUrlAuthType": "NONE",
                },
            ),
        ),
    ),
    # ---- asynchronous invocation configuration ----
    Case(
        "PutFunctionEventInvokeConfig on a version",
        "lambda",
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "Qualifier": "1", "MaximumRetryAttempts": 0},
        (fn("lambda:PutFunctionEventInvokeConfig", f"{FN}:f:1"),),
    ),
    Case(
        "UpdateFunctionEventInvokeConfig",
        "lambda",
        "UpdateFunctionEventInvokeConfig",
        {"FunctionName": "f"},
        (fn("lambda:UpdateFunctionEventInvokeConfig", f"{FN}:f"),),
    ),
    Case(
        "GetFunctionEventInvokeConfig of an alias",
        "lambda",
        "GetFunctionEventInvokeConfig",
        {"FunctionName": "f:prod"},
        (fn("lambda:GetFunctionEventInvokeConfig", f"{FN}:f:prod"),),
    ),
    Case(
        "DeleteFunctionEventInvokeConfig",
        "lambda",
        "DeleteFunctionEventInvokeConfig",
        {"FunctionName": "f"},
        (fn("lambda:DeleteFunctionEventInvokeConfig", f"{FN}:f"),),
    ),
    Case(
        "ListFunctionEventInvokeConfigs",
        "lambda",
        "ListFunctionEventInvokeConfigs",
        {"FunctionName": "f"},
        (fn("lambda:ListFunctionEventInvokeConfigs", f"{FN}:f"),),
    ),
    # ---- tags ----
    Case(
        "TagResource on a function",
        "lambda",
        "TagResource",
        {"Resource": f"{FN}:f", "Tags": {"team": "blue"}},
        (
            fn(
                "lambda:TagResource",
                f"{FN}:f",
                conditions={"aws:RequestTag/team": "blue", "aws:TagKeys": ("team",)},
            ),
        ),
    ),
    Case(
        "TagResource on an event source mapping",
        "lambda",
        "TagResource",
        {"Resource": f"{ESM}:1234", "Tags": {"a": "b"}},
        (
            fn(
                "lambda:TagResource",
                f"{ESM}:1234",
                conditions={"aws:RequestTag/a": "b", "aws:TagKeys": ("a",)},
            ),
        ),
    ),
    Case(
        "UntagResource",
        "lambda",
        "UntagResource",
        {"Resource": f"{FN}:f", "TagKeys": ["team", "env"]},
        (fn("lambda:UntagResource", f"{FN}:f", conditions={"aws:TagKeys": ("team", "env")}),),
    ),
    Case(
        "ListTags",
        "lambda",
        "ListTags",
        {"Resource": f"{FN}:f"},
        (fn("lambda:ListTags", f"{FN}:f"),),
    ),
    # ---- event source mappings ----
    Case(
        "CreateEventSourceMapping has no resource and names its function",
        "lambda",
        "CreateEventSourceMapping",
        {"FunctionName": "f", "EventSourceArn": "arn:aws:sqs:x"},
        (
            auth(
                "lambda:CreateEventSourceMapping", "*", conditions={"lambda:FunctionArn": f"{FN}:f"}
            ),
        ),
    ),
    Case(
        "CreateEventSourceMapping for an alias, with tags",
        "lambda",
        "CreateEventSourceMapping",
        {"FunctionName": "f:prod", "Tags": {"k": "v"}},
        (
            auth(
                "lambda:CreateEventSourceMapping",
                "*",
                conditions={
                    "lambda:FunctionArn": f"{FN}:f:prod",
                    "aws:RequestTag/k": "v",
                    "aws:TagKeys": ("k",),
                },
            ),
        ),
    ),
    Case(
        "GetEventSourceMapping: the function is the mapping's",
        "lambda",
        "GetEventSourceMapping",
        {"UUID": "1234"},
        (
            auth(
                "lambda:GetEventSourceMapping",
                f"{ESM}:1234",
                keys=("lambda:FunctionArn", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "UpdateEventSourceMapping to another function",
        "lambda",
        "UpdateEventSourceMapping",
        {"UUID": "1234", "FunctionName": "g"},
        (
            fn(
                "lambda:UpdateEventSourceMapping",
                f"{ESM}:1234",
                conditions={"lambda:FunctionArn": f"{FN}:g"},
            ),
        ),
    ),
    Case(
        "DeleteEventSourceMapping",
        "lambda",
        "DeleteEventSourceMapping",
        {"UUID": "1234"},
        (
            auth(
                "lambda:DeleteEventSourceMapping",
                f"{ESM}:1234",
                keys=("lambda:FunctionArn", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "ListEventSourceMappings has no resource",
        "lambda",
        "ListEventSourceMappings",
        {"FunctionName": "f"},
        (auth("lambda:ListEventSourceMappings", "*"),),
    ),
    # ---- layers ----
    Case(
        "PublishLayerVersion acts on the layer",
        "lambda",
        "PublishLayerVersion",
        {"LayerName": "deps"},
        (auth("lambda:PublishLayerVersion", f"{LAYER}:deps"),),
    ),
    Case(
        "PublishLayerVersion by layer ARN",
        "lambda",
        "PublishLayerVersion",
        {"LayerName": f"{LAYER}:deps"},
        (auth("lambda:PublishLayerVersion", f"{LAYER}:deps"),),
    ),
    Case(
        "GetLayerVersion",
        "lambda",
        "GetLayerVersion",
        {"LayerName": "deps", "VersionNumber": 3},
        (auth("lambda:GetLayerVersion", f"{LAYER}:deps:3"),),
    ),
    Case(
        "DeleteLayerVersion",
        "lambda",
        "DeleteLayerVersion",
        {"LayerName": "deps", "VersionNumber": "2"},
        (auth("lambda:DeleteLayerVersion", f"{LAYER}:deps:2"),),
    ),
    Case(
        "GetLayerVersionPolicy",
        "lambda",
        "GetLayerVersionPolicy",
        {"LayerName": "deps", "VersionNumber": 1},
        (auth("lambda:GetLayerVersionPolicy", f"{LAYER}:deps:1"),),
    ),
    Case(
        "AddLayerVersionPermission",
        "lambda",
        "AddLayerVersionPermission",
        {"LayerName": "deps", "VersionNumber": 1, "Principal": "*"},
        (auth("lambda:AddLayerVersionPermission", f"{LAYER}:deps:1"),),
    ),
    Case(
        "RemoveLayerVersionPermission",
        "lambda",
        "RemoveLayerVersionPermission",
        {"LayerName": "deps", "VersionNumber": 1, "StatementId": "s"},
        (auth("lambda:RemoveLayerVersionPermission", f"{LAYER}:deps:1"),),
    ),
    Case(
        "GetLayerVersionByArn of another account's layer",
        "lambda",
        "GetLayerVersionByArn",
        {"Arn": "arn:aws:lambda:us-east-1:444455556666:layer:shared:9"},
        (auth("lambda:GetLayerVersion", "arn:aws:lambda:us-east-1:444455556666:layer:shared:9"),),
    ),
    Case(
        "ListLayers has no resource", "lambda", "ListLayers", {}, (auth("lambda:ListLayers", "*"),)
    ),
    Case(
        "ListLayerVersions has no resource",
        "lambda",
        "ListLayerVersions",
        {"LayerName": "deps"},
        (auth("lambda:ListLayerVersions", "*"),),
    ),
    # ---- CloudWatch Logs: group actions see "...:log-group:NAME:log-stream:" ----
    Case(
        "DescribeLogGroups",
        "logs",
        "DescribeLogGroups",
        {"logGroupNamePrefix": "/aws"},
        (auth("logs:DescribeLogGroups", f"{LOGS}::log-stream:"),),
    ),
    Case(
        "CreateLogGroup",
        "logs",
        "CreateLogGroup",
        {"logGroupName": "/aws/lambda/f"},
        (auth("logs:CreateLogGroup", f"{LOGS}:/aws/lambda/f:log-stream:"),),
    ),
    Case(
        "CreateLogGroup with tags also tags",
        "logs",
        "CreateLogGroup",
        {"logGroupName": "app", "tags": {"team": "blue"}},
        (
            auth(
                "logs:CreateLogGroup",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:RequestTag/team": "blue", "aws:TagKeys": ("team",)},
            ),
            auth(
                "logs:TagResource",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:RequestTag/team": "blue", "aws:TagKeys": ("team",)},
                dependent=True,
            ),
        ),
    ),
    Case(
        "PutMetricFilter acts on the group",
        "logs",
        "PutMetricFilter",
        {
            "logGroupName": "app",
            "filterName": "f",
            "filterPattern": "",
            "metricTransformations": [],
        },
        (auth("logs:PutMetricFilter", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DescribeMetricFilters of one group",
        "logs",
        "DescribeMetricFilters",
        {"logGroupName": "app"},
        (auth("logs:DescribeMetricFilters", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DescribeMetricFilters of every group",
        "logs",
        "DescribeMetricFilters",
        {"metricName": "m", "metricNamespace": "n"},
        (auth("logs:DescribeMetricFilters", f"{LOGS}::log-stream:"),),
    ),
    Case(
        "DeleteMetricFilter",
        "logs",
        "DeleteMetricFilter",
        {"logGroupName": "app", "filterName": "f"},
        (auth("logs:DeleteMetricFilter", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "TestMetricFilter names no resource",
        "logs",
        "TestMetricFilter",
        {"filterPattern": "ERROR", "logEventMessages": ["x"]},
        (auth("logs:TestMetricFilter", "*"),),
    ),
    Case(
        "PutSubscriptionFilter",
        "logs",
        "PutSubscriptionFilter",
        {"logGroupName": "app", "filterName": "f", "filterPattern": "", "destinationArn": FN},
        (auth("logs:PutSubscriptionFilter", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DescribeSubscriptionFilters",
        "logs",
        "DescribeSubscriptionFilters",
        {"logGroupName": "app"},
        (auth("logs:DescribeSubscriptionFilters", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DeleteSubscriptionFilter",
        "logs",
        "DeleteSubscriptionFilter",
        {"logGroupName": "app", "filterName": "f"},
        (auth("logs:DeleteSubscriptionFilter", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DeleteLogStream acts on the stream",
        "logs",
        "DeleteLogStream",
        {"logGroupName": "app", "logStreamName": "s"},
        (auth("logs:DeleteLogStream", f"{LOGS}:app:log-stream:s", keys=TAGGED),),
    ),
    Case(
        "TagResource on a group ARN, with its tags as request tags",
        "logs",
        "TagResource",
        {"resourceArn": f"{LOGS}:app", "tags": {"team": "a"}},
        (
            auth(
                "logs:TagResource",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:RequestTag/team": "a", "aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "UntagResource names the keys",
        "logs",
        "UntagResource",
        {"resourceArn": f"{LOGS}:app", "tagKeys": ["team"]},
        (
            auth(
                "logs:UntagResource",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "ListTagsForResource",
        "logs",
        "ListTagsForResource",
        {"resourceArn": f"{LOGS}:app"},
        (auth("logs:ListTagsForResource", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "TagLogGroup (legacy) is its own action",
        "logs",
        "TagLogGroup",
        {"logGroupName": "app", "tags": {"team": "a"}},
        (
            auth(
                "logs:TagLogGroup",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:RequestTag/team": "a", "aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "UntagLogGroup (legacy)",
        "logs",
        "UntagLogGroup",
        {"logGroupName": "app", "tags": ["team"]},
        (
            auth(
                "logs:UntagLogGroup",
                f"{LOGS}:app:log-stream:",
                conditions={"aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "ListTagsLogGroup (legacy)",
        "logs",
        "ListTagsLogGroup",
        {"logGroupName": "app"},
        (auth("logs:ListTagsLogGroup", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DeleteLogGroup",
        "logs",
        "DeleteLogGroup",
        {"logGroupName": "app"},
        (auth("logs:DeleteLogGroup", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "PutRetentionPolicy",
        "logs",
        "PutRetentionPolicy",
        {"logGroupName": "app", "retentionInDays": 7},
        (auth("logs:PutRetentionPolicy", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DeleteRetentionPolicy",
        "logs",
        "DeleteRetentionPolicy",
        {"logGroupName": "app"},
        (auth("logs:DeleteRetentionPolicy", f"{LOGS}:app:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DescribeLogStreams",
        "logs",
        "DescribeLogStreams",
        {"logGroupName": "/aws/lambda/f"},
        (auth("logs:DescribeLogStreams", f"{LOGS}:/aws/lambda/f:log-stream:", keys=TAGGED),),
    ),
    Case(
        "DescribeLogStreams by group ARN ending in :*",
        "logs",
        "DescribeLogStreams",
        {"logGroupIdentifier": f"{LOGS}:/aws/lambda/f:*"},
        (auth("logs:DescribeLogStreams", f"{LOGS}:/aws/lambda/f:log-stream:", keys=TAGGED),),
    ),
    Case(
        "FilterLogEvents",
        "logs",
        "FilterLogEvents",
        {"logGroupName": "/aws/lambda/f", "filterPattern": "ERROR"},
        (auth("logs:FilterLogEvents", f"{LOGS}:/aws/lambda/f:log-stream:", keys=TAGGED),),
    ),
    Case(
        "GetLogEvents acts on the stream",
        "logs",
        "GetLogEvents",
        {"logGroupName": "/aws/lambda/f", "logStreamName": "2024/01/01/[$LATEST]abc"},
        (
            auth(
                "logs:GetLogEvents",
                f"{LOGS}:/aws/lambda/f:log-stream:2024/01/01/[$LATEST]abc",
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "GetLogEvents by another account's group ARN",
        "logs",
        "GetLogEvents",
        {
            "logGroupIdentifier": "arn:aws:logs:us-east-1:444455556666:log-group:shared",
            "logStreamName": "s",
        },
        (
            auth(
                "logs:GetLogEvents",
                "arn:aws:logs:us-east-1:444455556666:log-group:shared:log-stream:s",
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "FilterLogEvents by a group ARN of another region is the group here",
        "logs",
        "FilterLogEvents",
        {"logGroupIdentifier": "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/f"},
        (auth("logs:FilterLogEvents", f"{LOGS}:/aws/lambda/f:log-stream:", keys=TAGGED),),
    ),
    Case(
        "StartQuery acts on every group it names",
        "logs",
        "StartQuery",
        {
            "logGroupNames": ["/aws/lambda/f", "app", "app"],
            "startTime": 0,
            "endTime": 1,
            "queryString": "fields @message",
        },
        (
            auth(
                "logs:StartQuery",
                f"{LOGS}:/aws/lambda/f:log-stream:",
                f"{LOGS}:app:log-stream:",
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "StartQuery by group identifiers",
        "logs",
        "StartQuery",
        {"logGroupIdentifiers": ["arn:aws:logs:us-east-1:444455556666:log-group:shared"]},
        (
            auth(
                "logs:StartQuery",
                "arn:aws:logs:us-east-1:444455556666:log-group:shared:log-stream:",
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "GetQueryResults names no resource",
        "logs",
        "GetQueryResults",
        {"queryId": "q"},
        (auth("logs:GetQueryResults", "*"),),
    ),
    Case(
        "StopQuery names no resource",
        "logs",
        "StopQuery",
        {"queryId": "q"},
        (auth("logs:StopQuery", "*"),),
    ),
    Case(
        "DescribeQueries names no resource",
        "logs",
        "DescribeQueries",
        {},
        (auth("logs:DescribeQueries", "*"),),
    ),
    Case(
        "CreateLogStream",
        "logs",
        "CreateLogStream",
        {"logGroupName": "app", "logStreamName": "s1"},
        (auth("logs:CreateLogStream", f"{LOGS}:app:log-stream:s1", keys=TAGGED),),
    ),
    Case(
        "PutLogEvents",
        "logs",
        "PutLogEvents",
        {"logGroupName": "app", "logStreamName": "s1", "logEvents": []},
        (auth("logs:PutLogEvents", f"{LOGS}:app:log-stream:s1", keys=TAGGED),),
    ),
    # ---- CloudWatch ----
    Case(
        "GetMetricStatistics has no resource",
        "monitoring",
        "GetMetricStatistics",
        {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
        (auth("cloudwatch:GetMetricStatistics", "*"),),
    ),
    Case(
        "GetMetricData has no resource",
        "monitoring",
        "GetMetricData",
        {"MetricDataQueries": [{"Id": "m1", "Expression": "1"}]},
        (auth("cloudwatch:GetMetricData", "*"),),
    ),
    Case(
        "ListMetrics has no resource",
        "monitoring",
        "ListMetrics",
        {"Namespace": "MyApp"},
        (auth("cloudwatch:ListMetrics", "*"),),
    ),
    Case(
        "PutMetricData supplies the namespace as cloudwatch:namespace",
        "monitoring",
        "PutMetricData",
        {"Namespace": "MyApp", "MetricData": [{"MetricName": "Orders", "Value": 1.0}]},
        (auth("cloudwatch:PutMetricData", "*", conditions={"cloudwatch:namespace": "MyApp"}),),
    ),
    Case(
        "PutMetricData without a namespace supplies no key",
        "monitoring",
        "PutMetricData",
        {"MetricData": []},
        (auth("cloudwatch:PutMetricData", "*"),),
    ),
    Case(
        "PutMetricAlarm acts on the alarm",
        "monitoring",
        "PutMetricAlarm",
        {"AlarmName": "slow", "MetricName": "Errors", "Namespace": "AWS/Lambda"},
        (auth("cloudwatch:PutMetricAlarm", f"{ALARM}:slow"),),
    ),
    Case(
        "PutMetricAlarm with tags also needs cloudwatch:TagResource",
        "monitoring",
        "PutMetricAlarm",
        {"AlarmName": "slow", "Tags": [{"Key": "team", "Value": "web"}]},
        (
            auth(
                "cloudwatch:PutMetricAlarm",
                f"{ALARM}:slow",
                conditions={"aws:RequestTag/team": "web", "aws:TagKeys": ("team",)},
            ),
            auth(
                "cloudwatch:TagResource",
                f"{ALARM}:slow",
                conditions={"aws:RequestTag/team": "web", "aws:TagKeys": ("team",)},
                dependent=True,
            ),
        ),
    ),
    Case(
        "DescribeAlarms acts on every alarm of the account",
        "monitoring",
        "DescribeAlarms",
        {"AlarmNamePrefix": "s"},
        (auth("cloudwatch:DescribeAlarms", f"{ALARM}:*"),),
    ),
    Case(
        "DescribeAlarmsForMetric has no resource",
        "monitoring",
        "DescribeAlarmsForMetric",
        {"MetricName": "Errors", "Namespace": "AWS/Lambda"},
        (auth("cloudwatch:DescribeAlarmsForMetric", "*"),),
    ),
    Case(
        "DescribeAlarmHistory of one alarm",
        "monitoring",
        "DescribeAlarmHistory",
        {"AlarmName": "slow"},
        (auth("cloudwatch:DescribeAlarmHistory", f"{ALARM}:slow"),),
    ),
    Case(
        "DescribeAlarmHistory of every alarm",
        "monitoring",
        "DescribeAlarmHistory",
        {},
        (auth("cloudwatch:DescribeAlarmHistory", f"{ALARM}:*"),),
    ),
    Case(
        "DeleteAlarms acts on each alarm named",
        "monitoring",
        "DeleteAlarms",
        {"AlarmNames": ["a", "b", "a"]},
        (auth("cloudwatch:DeleteAlarms", f"{ALARM}:a", f"{ALARM}:b", keys=TAGGED),),
    ),
    Case(
        "EnableAlarmActions acts on each alarm named",
        "monitoring",
        "EnableAlarmActions",
        {"AlarmNames": ["a"]},
        (auth("cloudwatch:EnableAlarmActions", f"{ALARM}:a", keys=TAGGED),),
    ),
    Case(
        "DisableAlarmActions acts on each alarm named",
        "monitoring",
        "DisableAlarmActions",
        {"AlarmNames": ["a"]},
        (auth("cloudwatch:DisableAlarmActions", f"{ALARM}:a", keys=TAGGED),),
    ),
    Case(
        "SetAlarmState acts on the alarm",
        "monitoring",
        "SetAlarmState",
        {"AlarmName": "slow", "StateValue": "OK", "StateReason": "x"},
        (auth("cloudwatch:SetAlarmState", f"{ALARM}:slow", keys=TAGGED),),
    ),
    Case(
        "CloudWatch TagResource supplies the tags",
        "monitoring",
        "TagResource",
        {"ResourceARN": f"{ALARM}:slow", "Tags": [{"Key": "team", "Value": "web"}]},
        (
            auth(
                "cloudwatch:TagResource",
                f"{ALARM}:slow",
                conditions={"aws:RequestTag/team": "web", "aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "CloudWatch UntagResource supplies the keys",
        "monitoring",
        "UntagResource",
        {"ResourceARN": f"{ALARM}:slow", "TagKeys": ["team"]},
        (
            auth(
                "cloudwatch:UntagResource",
                f"{ALARM}:slow",
                conditions={"aws:TagKeys": ("team",)},
                keys=TAGGED,
            ),
        ),
    ),
    Case(
        "CloudWatch ListTagsForResource",
        "monitoring",
        "ListTagsForResource",
        {"ResourceARN": f"{ALARM}:slow"},
        (auth("cloudwatch:ListTagsForResource", f"{ALARM}:slow", keys=TAGGED),),
    ),
    # ---- EventBridge: rule/NAME on the default bus, rule/BUS/NAME on others ----
    Case(
        "PutRule on the default bus with a pattern and tags",
        "events",
        "PutRule",
        {
            "Name": "r",
            "EventPattern": '{"source": ["my.app"], "detail-type": ["Order"]}',
            "Tags": [{"Key": "team", "Value": "blue"}],
        },
        (
            auth(
                "events:PutRule",
                f"{EVENTS}:rule/r",
                keys=TAGGED,
                conditions={
                    "events:source": ("my.app",),
                    "events:detail-type": ("Order",),
                    "aws:RequestTag/team": "blue",
                    "aws:TagKeys": ("team",),
                },
            ),
        ),
    ),
    Case(
        "PutRule with content filters supplies only exact sources",
        "events",
        "PutRule",
        {"Name": "r", "EventPattern": '{"source": ["a.b", {"prefix": "aws."}], "detail": {}}'},
        (
            auth(
                "events:PutRule",
                f"{EVENTS}:rule/r",
                keys=TAGGED,
                conditions={"events:source": ("a.b",)},
            ),
        ),
    ),
    Case(
        "PutRule on a custom bus, a schedule",
        "events",
        "PutRule",
        {"Name": "r", "EventBusName": "orders", "ScheduleExpression": "rate(1 minute)"},
        (auth("events:PutRule", f"{EVENTS}:rule/orders/r", keys=TAGGED),),
    ),
    Case(
        "PutRule naming the default bus by ARN",
        "events",
        "PutRule",
        {"Name": "r", "EventBusName": f"{EVENTS}:event-bus/default"},
        (auth("events:PutRule", f"{EVENTS}:rule/r", keys=TAGGED),),
    ),
    Case(
        "DescribeRule",
        "events",
        "DescribeRule",
        {"Name": "r"},
        (
            auth(
                "events:DescribeRule",
                f"{EVENTS}:rule/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "EnableRule",
        "events",
        "EnableRule",
        {"Name": "r", "EventBusName": "orders"},
        (
            auth(
                "events:EnableRule",
                f"{EVENTS}:rule/orders/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "DisableRule",
        "events",
        "DisableRule",
        {"Name": "r"},
        (
            auth(
                "events:DisableRule",
                f"{EVENTS}:rule/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "DeleteRule",
        "events",
        "DeleteRule",
        {"Name": "r"},
        (
            auth(
                "events:DeleteRule",
                f"{EVENTS}:rule/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "PutTargets says which targets",
        "events",
        "PutTargets",
        {"Rule": "r", "Targets": [{"Id": "1", "Arn": f"{FN}:f"}, {"Id": "2", "Arn": f"{FN}:g"}]},
        (
            auth(
                "events:PutTargets",
                f"{EVENTS}:rule/r",
                conditions={"events:TargetArn": (f"{FN}:f", f"{FN}:g")},
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "RemoveTargets",
        "events",
        "RemoveTargets",
        {"Rule": "r", "Ids": ["1"]},
        (
            auth(
                "events:RemoveTargets",
                f"{EVENTS}:rule/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "ListTargetsByRule on a custom bus",
        "events",
        "ListTargetsByRule",
        {"Rule": "r", "EventBusName": "orders"},
        (
            auth(
                "events:ListTargetsByRule",
                f"{EVENTS}:rule/orders/r",
                keys=("events:creatorAccount", RESOURCE_TAG),
            ),
        ),
    ),
    Case(
        "PutEvents to the default bus",
        "events",
        "PutEvents",
        {"Entries": [{"Source": "my.app", "DetailType": "Order", "Detail": "{}"}]},
        (
            auth(
                "events:PutEvents",
                f"{EVENTS}:event-bus/default",
                keys=TAGGED,
                conditions={"events:source": ("my.app",), "events:detail-type": ("Order",)},
            ),
        ),
    ),
    Case(
        "PutEvents to two buses",
        "events",
        "PutEvents",
        {
            "Entries": [
                {"Source": "a", "DetailType": "x", "EventBusName": "orders"},
                {"Source": "b", "DetailType": "x"},
                {"Source": "a", "DetailType": "y", "EventBusName": "orders"},
            ]
        },
        (
            auth(
                "events:PutEvents",
                f"{EVENTS}:event-bus/orders",
                f"{EVENTS}:event-bus/default",
                keys=TAGGED,
                conditions={"events:source": ("a", "b"), "events:detail-type": ("x", "y")},
            ),
        ),
    ),
    Case("ListRules has no resource", "events", "ListRules", {}, (auth("events:ListRules", "*"),)),
    Case(
        "TestEventPattern has no resource",
        "events",
        "TestEventPattern",
        {"EventPattern": "{}", "Event": "{}"},
        (auth("events:TestEventPattern", "*"),),
    ),
    # ---- STS ----
    Case("GetCallerIdentity needs no permission", "sts", "GetCallerIdentity", {}, ()),
    Case("GetSessionToken", "sts", "GetSessionToken", {}, (auth("sts:GetSessionToken", "*"),)),
    Case(
        "AssumeRole with session tags also tags the session",
        "sts",
        "AssumeRole",
        {"RoleArn": ROLE, "RoleSessionName": "s", "Tags": [{"Key": "p", "Value": "q"}]},
        (
            auth(
                "sts:AssumeRole",
                ROLE,
                conditions={
                    "sts:RoleSessionName": "s",
                    "aws:RequestTag/p": "q",
                    "aws:TagKeys": ("p",),
                },
            ),
            auth(
                "sts:TagSession",
                ROLE,
                conditions={"aws:RequestTag/p": "q", "aws:TagKeys": ("p",)},
                dependent=True,
            ),
        ),
    ),
    # ---- IAM: the entity's ARN from its name (and path on create) ----
    Case(
        "iam create user with a path and tags",
        "iam",
        "CreateUser",
        {"UserName": "bob", "Path": "/team/", "Tags": [{"Key": "k", "Value": "v"}]},
        (
            auth(
                "iam:CreateUser",
                "arn:aws:iam::111122223333:user/team/bob",
                conditions={"aws:RequestTag/k": "v", "aws:TagKeys": ("k",)},
            ),
        ),
    ),
    Case(
        "iam get user without a name acts on the caller",
        "iam",
        "GetUser",
        {},
        (auth("iam:GetUser", "*"),),
    ),
    Case(
        "iam attach role policy names the policy in iam:PolicyARN",
        "iam",
        "AttachRolePolicy",
        {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        (
            auth(
                "iam:AttachRolePolicy",
                "arn:aws:iam::111122223333:role/r",
                conditions={"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            ),
        ),
    ),
    Case(
        "iam untag user",
        "iam",
        "UntagUser",
        {"UserName": "bob", "TagKeys": ["a", "b"]},
        (
            auth(
                "iam:UntagUser",
                "arn:aws:iam::111122223333:user/bob",
                conditions={"aws:TagKeys": ("a", "b")},
            ),
        ),
    ),
    Case(
        "iam put group policy",
        "iam",
        "PutGroupPolicy",
        {"GroupName": "devs", "PolicyName": "p", "PolicyDocument": "{}"},
        (auth("iam:PutGroupPolicy", "arn:aws:iam::111122223333:group/devs"),),
    ),
    Case(
        "iam policy version by the policy's ARN",
        "iam",
        "CreatePolicyVersion",
        {"PolicyArn": "arn:aws:iam::111122223333:policy/app/p", "PolicyDocument": "{}"},
        (auth("iam:CreatePolicyVersion", "arn:aws:iam::111122223333:policy/app/p"),),
    ),
    Case(
        "iam create policy",
        "iam",
        "CreatePolicy",
        {"PolicyName": "p", "Path": "/app/", "PolicyDocument": "{}"},
        (auth("iam:CreatePolicy", "arn:aws:iam::111122223333:policy/app/p"),),
    ),
    Case("iam list roles", "iam", "ListRoles", {}, (auth("iam:ListRoles", "*"),)),
    Case(
        "iam simulate principal policy on the source",
        "iam",
        "SimulatePrincipalPolicy",
        {"PolicySourceArn": "arn:aws:iam::111122223333:user/bob", "ActionNames": ["s3:Get"]},
        (auth("iam:SimulatePrincipalPolicy", "arn:aws:iam::111122223333:user/bob"),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_an_operation_maps_to_awss_action_resources_and_condition_keys(case: Case) -> None:
    assert authorizations(case.service, case.operation, case.params, SCOPE) == case.expected


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetRole", {"RoleName": "a/b"}),
        ("GetPolicy", {"PolicyArn": "not-an-arn"}),
        ("GetPolicy", {}),
        ("CreatePolicy", {}),
    ],
)
def test_an_iam_request_naming_no_entity_is_left_to_the_operation(
    operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(UnparsableResource):
        authorizations("iam", operation, params, SCOPE)


def test_the_table_holds_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


def test_an_unknown_operation_has_no_entry() -> None:
    with pytest.raises(UnknownOperation):
        authorizations("lambda", "InvokeEverything", {}, SCOPE)


def test_an_operation_of_another_service_is_unknown() -> None:
    # Same name, other service: lambda's GetFunction says nothing about logs'.
    with pytest.raises(UnknownOperation):
        authorizations("logs", "GetFunction", {}, SCOPE)
    with pytest.raises(UnknownOperation):
        authorizations("s3", "GetObject", {}, SCOPE)


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("lambda", "Invoke", {}),
        ("lambda", "Invoke", {"FunctionName": "has space"}),
        ("lambda", "Invoke", {"FunctionName": 7}),
        ("lambda", "Invoke", {"FunctionName": "f" * 5000}),
        ("lambda", "Invoke", {"FunctionName": "f:prod", "Qualifier": "dev"}),
        ("lambda", "Invoke", {"FunctionName": "f", "Qualifier": ["prod"]}),
        ("lambda", "GetLayerVersion", {"LayerName": "deps", "VersionNumber": "x"}),
        ("lambda", "GetLayerVersion", {"LayerName": "deps", "VersionNumber": True}),
        ("lambda", "GetLayerVersionByArn", {"Arn": f"{FN}:f"}),
        ("lambda", "GetEventSourceMapping", {"UUID": "../x"}),
        ("lambda", "CreateFunction", {"FunctionName": "f", "Role": "admin"}),
        ("lambda", "CreateFunction", {"FunctionName": "f", "Tags": ["a"]}),
        ("lambda", "CreateFunction", {"FunctionName": "f", "Layers": [1]}),
        ("lambda", "UpdateFunctionConfiguration", {"FunctionName": "f", "Layers": ["deps"]}),
        ("lambda", "UntagResource", {"Resource": f"{FN}:f", "TagKeys": "team"}),
        ("lambda", "TagResource", {"Resource": "1234:event-source-mapping:x", "Tags": {}}),
        ("logs", "GetLogEvents", {"logGroupName": "app"}),
        ("logs", "CreateLogGroup", {"logGroupName": "app:log-stream:x"}),
        ("logs", "DeleteLogGroup", {"logGroupName": "app*"}),
        ("logs", "PutLogEvents", {"logGroupName": "app", "logStreamName": "s:x"}),
        ("lambda", "TagResource", {"Resource": f"{FN}:f", "Tags": {"k": 1}}),
        ("events", "PutRule", {"Name": "r", "Tags": [{"Key": "k", "Value": ["v"]}]}),
        ("logs", "FilterLogEvents", {"logGroupIdentifier": "arn:aws:s3:::bucket"}),
        ("events", "PutRule", {"Name": "a/b"}),
        ("events", "PutRule", {"Name": "r", "EventPattern": '{"source": ["a"]}' + " " * 4096}),
        ("events", "PutRule", {"Name": "r", "EventBusName": "arn:aws:sqs:us-east-1:1:q"}),
        ("events", "PutEvents", {"Entries": "all"}),
        ("events", "PutEvents", {"Entries": [{"Source": "a"}] * 201}),
        ("events", "PutTargets", {"Rule": "r", "Targets": [{"Id": "1", "Arn": 5}]}),
        ("sts", "AssumeRole", {"RoleArn": f"{FN}:f"}),
        ("monitoring", "PutMetricAlarm", {}),
        ("monitoring", "PutMetricAlarm", {"AlarmName": "a" * 256}),
        ("monitoring", "SetAlarmState", {"AlarmName": 7}),
        ("monitoring", "DeleteAlarms", {"AlarmNames": []}),
        ("monitoring", "DeleteAlarms", {"AlarmNames": "a"}),
        ("monitoring", "TagResource", {"ResourceARN": "x" * 1025}),
    ],
)
def test_a_request_naming_no_resource_is_left_to_the_operation(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    """No ARN can be built: the caller lets the operation answer (a not-found or a
    validation error, as AWS does) instead of evaluating a made-up resource."""
    with pytest.raises(UnparsableResource):
        authorizations(service, operation, params, SCOPE)


def test_a_qualifier_in_the_name_is_dropped_where_the_operation_acts_on_the_function() -> None:
    [update] = authorizations(
        "lambda", "UpdateFunctionCode", {"FunctionName": f"{FN}:f:prod"}, SCOPE
    )
    assert update.resources == (f"{FN}:f",)


def test_the_partition_and_region_come_from_the_scope_for_names() -> None:
    scope = Scope(region="cn-north-1", account="111122223333", partition="aws-cn")
    [invoke] = authorizations("lambda", "Invoke", {"FunctionName": "f"}, scope)
    assert invoke.resources == ("arn:aws-cn:lambda:cn-north-1:111122223333:function:f",)


@pytest.mark.parametrize(
    "pattern", ["not json", "[1, 2]", "[" * 2000 + "]" * 2000, '{"source": "a"}']
)
def test_a_rule_pattern_that_is_not_a_pattern_supplies_no_keys(pattern: str) -> None:
    [put_rule] = authorizations("events", "PutRule", {"Name": "r", "EventPattern": pattern}, SCOPE)
    assert put_rule.conditions == {}
