"""Sample events of the common event sources, shaped as AWS sends them (console templates)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

_REGION = "us-east-1"
_ACCOUNT = "123456789012"


def _awslogs_data() -> str:
    """A subscription filter batch: base64 of gzipped JSON, as CloudWatch Logs delivers it."""
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": _ACCOUNT,
        "logGroup": "/aws/lambda/example",
        "logStream": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["ExampleFilter"],
        "logEvents": [
            {"id": "eventId1", "timestamp": 1440442987000, "message": "[ERROR] First test message"},
            {
                "id": "eventId2",
                "timestamp": 1440442987001,
                "message": "[ERROR] Second test message",
            },
        ],
    }
    return base64.b64encode(gzip.compress(json.dumps(batch).encode(), mtime=0)).decode()


TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "hello-world": (
        "Hello World",
        {"key1": "value1", "key2": "value2", "key3": "value3"},
    ),
    "apigateway-proxy": (
        "API Gateway AWS Proxy",
        {
            "body": '{"test":"body"}',
            "resource": "/{proxy+}",
            "path": "/path/to/resource",
            "httpMethod": "POST",
            "isBase64Encoded": False,
            "queryStringParameters": {"foo": "bar"},
            "multiValueQueryStringParameters": {"foo": ["bar"]},
            "pathParameters": {"proxy": "/path/to/resource"},
            "stageVariables": {"baz": "qux"},
            "headers": {
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Encoding": "gzip, deflate, sdch",
                "Accept-Language": "en-US,en;q=0.8",
                "Cache-Control": "max-age=0",
                "Host": "1234567890.execute-api.us-east-1.amazonaws.com",
                "User-Agent": "Custom User Agent String",
                "X-Forwarded-For": "127.0.0.1, 127.0.0.2",
                "X-Forwarded-Port": "443",
                "X-Forwarded-Proto": "https",
            },
            "multiValueHeaders": {"Accept-Language": ["en-US,en;q=0.8"]},
            "requestContext": {
                "accountId": _ACCOUNT,
                "resourceId": "123456",
                "stage": "prod",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "requestTime": "09/Apr/2015:12:34:56 +0000",
                "requestTimeEpoch": 1428582896000,
                "identity": {"sourceIp": "127.0.0.1", "userAgent": "Custom User Agent String"},
                "path": "/prod/path/to/resource",
                "resourcePath": "/{proxy+}",
                "httpMethod": "POST",
                "apiId": "1234567890",
                "protocol": "HTTP/1.1",
            },
        },
    ),
    "s3-put": (
        "S3 Put",
        {
            "Records": [
                {
                    "eventVersion": "2.0",
                    "eventSource": "aws:s3",
                    "awsRegion": _REGION,
                    "eventTime": "1970-01-01T00:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "EXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": "EXAMPLE123456789",
                        "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/"
                        "mnopqrstuvwxyzABCDEFGH",
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "testConfigRule",
                        "bucket": {
                            "name": "example-bucket",
                            "ownerIdentity": {"principalId": "EXAMPLE"},
                            "arn": "arn:aws:s3:::example-bucket",
                        },
                        "object": {
                            "key": "test%2Fkey",
                            "size": 1024,
                            "eTag": "0123456789abcdef0123456789abcdef",
                            "sequencer": "0A1B2C3D4E5F678901",
                        },
                    },
                }
            ]
        },
    ),
    "sqs": (
        "SQS",
        {
            "Records": [
                {
                    "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
                    "receiptHandle": "MessageReceiptHandle",
                    "body": "Hello from SQS!",
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1523232000000",
                        "SenderId": "123456789012",
                        "ApproximateFirstReceiveTimestamp": "1523232000001",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:MyQueue",
                    "awsRegion": _REGION,
                }
            ]
        },
    ),
    "sns": (
        "SNS",
        {
            "Records": [
                {
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"arn:aws:sns:{_REGION}:{_ACCOUNT}:ExampleTopic:"
                    "2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                    "EventSource": "aws:sns",
                    "Sns": {
                        "SignatureVersion": "1",
                        "Timestamp": "1970-01-01T00:00:00.000Z",
                        "Signature": "EXAMPLE",
                        "SigningCertUrl": "EXAMPLE",
                        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                        "Message": "Hello from SNS!",
                        "MessageAttributes": {
                            "Test": {"Type": "String", "Value": "TestString"},
                            "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
                        },
                        "Type": "Notification",
                        "UnsubscribeUrl": "EXAMPLE",
                        "TopicArn": f"arn:aws:sns:{_REGION}:{_ACCOUNT}:ExampleTopic",
                        "Subject": "example subject",
                    },
                }
            ]
        },
    ),
    "dynamodb-stream": (
        "DynamoDB Update",
        {
            "Records": [
                {
                    "eventID": "c4ca4238a0b923820dcc509a6f75849b",
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": _REGION,
                    "dynamodb": {
                        "Keys": {"Id": {"N": "101"}},
                        "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                        "ApproximateCreationDateTime": 1428537600,
                        "SequenceNumber": "4421584500000000017450439091",
                        "SizeBytes": 26,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                    "eventSourceARN": f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/ExampleTable"
                    "/stream/2015-06-27T00:48:05.899",
                },
                {
                    "eventID": "c81e728d9d4c2f636f067f89cc14862c",
                    "eventName": "MODIFY",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": _REGION,
                    "dynamodb": {
                        "Keys": {"Id": {"N": "101"}},
                        "NewImage": {
                            "Message": {"S": "This item has changed"},
                            "Id": {"N": "101"},
                        },
                        "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                        "ApproximateCreationDateTime": 1428537600,
                        "SequenceNumber": "4421584500000000017450439092",
                        "SizeBytes": 59,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                    "eventSourceARN": f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/ExampleTable"
                    "/stream/2015-06-27T00:48:05.899",
                },
            ]
        },
    ),
    "kinesis": (
        "Kinesis Data Stream",
        {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": "1",
                        "sequenceNumber": "4959033827149025660855969253836"
                        "1571095921575989136588898",
                        "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
                        "approximateArrivalTimestamp": 1545084650.987,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": "shardId-000000000006:"
                    "49590338271490256608559692538361571095921575989136588898",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": f"arn:aws:iam::{_ACCOUNT}:role/lambda-role",
                    "awsRegion": _REGION,
                    "eventSourceARN": f"arn:aws:kinesis:{_REGION}:{_ACCOUNT}:stream/lambda-stream",
                }
            ]
        },
    ),
    "scheduled-event": (
        "EventBridge (CloudWatch Events) scheduled event",
        {
            "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": _ACCOUNT,
            "time": "1970-01-01T00:00:00Z",
            "region": _REGION,
            "resources": [f"arn:aws:events:{_REGION}:{_ACCOUNT}:rule/ExampleRule"],
            "detail": {},
        },
    ),
    "cloudwatch-logs": (
        "CloudWatch Logs",
        {"awslogs": {"data": _awslogs_data()}},
    ),
}


def template_list() -> list[dict[str, str]]:
    return [{"key": key, "label": label} for key, (label, _) in TEMPLATES.items()]


def template_payload(key: str) -> dict[str, Any] | None:
    entry = TEMPLATES.get(key)
    return entry[1] if entry else None
