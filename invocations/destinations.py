"""Where an ended asynchronous event goes: its dead-letter queue and its destinations.

When an event ends, :mod:`invocations.asynchronous` stores what is to be sent in the row
(``deliveries``) together with the final state, so nothing is decided twice and a worker
that dies before sending leaves the row for the sweeper. :func:`deliveries_send` sends
each record, crossing it off as it goes; a record that cannot be delivered is counted
(``DeadLetterErrors`` / ``DestinationDeliveryFailures``) and noted, not retried forever,
as AWS does.

- A dead-letter queue (the version's ``DeadLetterConfig``, SQS or SNS) gets the event as
  it was sent, with the ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` attributes.
- An OnSuccess/OnFailure destination gets the invocation record (``version``,
  ``timestamp``, ``requestContext``, ``requestPayload``, ``responseContext``,
  ``responsePayload``): another function of the account (invoked asynchronously), an SQS
  queue, an SNS topic, an EventBridge bus or (on failure) an S3 bucket, through boto3.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from awsapi import strictjson
from awsapi.errors import ResourceNotFound
from functions import arns
from functions.models import EventInvokeConfig, FunctionVersion
from functions.selectors import function_resolve
from iam.models import Account
from invocations import acceptance, selectors
from invocations.models import AsyncInvocation
from monitoring.metrics.recorder import recorder as metrics
from monitoring.metrics.recorder import series_keys

logger = logging.getLogger(__name__)

DEAD_LETTER = "dlq"
DESTINATION = "destination"
SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
# AWS sends the first kilobyte of the error message as the ErrorMessage attribute.
ERROR_MESSAGE_BYTES = 1024
# A destination must not hold a worker for long: two tries of a few seconds each.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 10
_CLIENT_CONFIG = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "read_timeout": READ_TIMEOUT_S,
    "retries": {"max_attempts": 2, "mode": "standard"},
}


class DeliveryError(Exception):
    """A record could not be handed to its target."""


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 and parts[0] == "arn" else ""


# -- what to send -------------------------------------------------------------------------


def _dead_letter_arn(invocation: AsyncInvocation) -> str:
    """The DeadLetterConfig of the version that ran (else the one the qualifier names)."""
    qualifier = invocation.executed_version or invocation.qualifier or None
    try:
        resolved = function_resolve(invocation.account, invocation.function_name, qualifier)
    except ResourceNotFound:  # the function (or version) is gone: nothing to send to
        return ""
    # Any other error (the database is away) propagates: the attempt stays claimed and
    # runs again, rather than ending without the dead-letter message it owes.
    return resolved.version.dead_letter_target_arn if resolved.version else ""


def delivery_plan(
    invocation: AsyncInvocation, *, succeeded: bool, config: EventInvokeConfig | None
) -> list[dict[str, str]]:
    """The records an event that ended this way is owed (stored with its final state)."""
    if succeeded:
        if config is not None and config.on_success:
            return [{"kind": DESTINATION, "arn": config.on_success}]
        return []
    plan = []
    dead_letter = _dead_letter_arn(invocation)
    if dead_letter:
        plan.append({"kind": DEAD_LETTER, "arn": dead_letter})
    if config is not None and config.on_failure:
        plan.append({"kind": DESTINATION, "arn": config.on_failure})
    return plan


def _json_or_text(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        # The function's own output: a hostile one may nest 100,000 deep or say NaN.
        return strictjson.loads(data, max_depth=strictjson.PAYLOAD_MAX_DEPTH)
    except strictjson.JSONError:
        return bytes(data).decode(errors="replace")


def _timestamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def invocation_record(invocation: AsyncInvocation) -> dict[str, Any]:
    """The invocation record a destination receives, in AWS's shape."""
    function_arn = arns.function_arn(invocation.account_id, invocation.function_name)
    response_context: dict[str, Any] = {
        "statusCode": invocation.error_code or 200,
        "executedVersion": invocation.executed_version or None,
    }
    if response_context["executedVersion"] is None:
        del response_context["executedVersion"]
    if invocation.function_error:
        response_context["functionError"] = invocation.function_error
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _timestamp(invocation.finished or timezone.now()),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": f"{function_arn}:{invocation.qualifier or FunctionVersion.LATEST}",
            "condition": invocation.condition or RETRIES_EXHAUSTED,
            "approximateInvokeCount": invocation.attempts,
        },
        "requestPayload": _json_or_text(bytes(invocation.payload)),
        "responseContext": response_context,
    }
    if invocation.response_payload is not None:
        record["responsePayload"] = _json_or_text(bytes(invocation.response_payload))
    return record


def _error_message(invocation: AsyncInvocation) -> str:
    """What went wrong, as the ErrorMessage attribute gives it (the first kilobyte)."""
    message = invocation.last_error
    response = _json_or_text(
        bytes(invocation.response_payload) if invocation.response_payload is not None else None
    )
    if invocation.function_error and isinstance(response, dict) and "errorMessage" in response:
        message = str(response["errorMessage"])
    encoded = message.encode()[:ERROR_MESSAGE_BYTES]
    return encoded.decode(errors="ignore") or "Unknown error"


def dead_letter_attributes(invocation: AsyncInvocation) -> dict[str, dict[str, str]]:
    """The message attributes AWS adds to a dead-letter message (SQS and SNS spell them alike)."""
    return {
        "RequestID": {"DataType": "String", "StringValue": invocation.request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(invocation.error_code or 200)},
        "ErrorMessage": {"DataType": "String", "StringValue": _error_message(invocation)},
    }


# -- how to send it -----------------------------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_queue_urls: dict[str, str] = {}


def aws_client_options(service: str, region: str) -> dict[str, Any]:
    """Where the platform reaches an AWS service, and as whom: the region, the endpoint and
    the credentials from the settings (also what event source pollers read with)."""
    options: dict[str, Any] = {"region_name": region or arns.region()}
    endpoint = settings.FUNCTORY_AWS_ENDPOINT_URLS.get(service) or (
        settings.FUNCTORY_AWS_ENDPOINT_URL
    )
    if endpoint:
        options["endpoint_url"] = endpoint
    if settings.FUNCTORY_AWS_ACCESS_KEY_ID:
        options["aws_access_key_id"] = settings.FUNCTORY_AWS_ACCESS_KEY_ID
        options["aws_secret_access_key"] = settings.FUNCTORY_AWS_SECRET_ACCESS_KEY
    return options


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for a destination service (cached: clients are thread-safe)."""
    key = (service, region)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                service,
                config=Config(**_CLIENT_CONFIG),
                **aws_client_options(service, region),
            )
            _clients[key] = client
        return client


def _region_and_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[3], parts[4]


def _sqs_send(arn: str, body: str, attributes: dict[str, dict[str, str]] | None) -> None:
    region, account = _region_and_account(arn)
    sqs = aws_client("sqs", region)
    url = _queue_urls.get(arn)
    if url is None:
        name = arn.split(":")[5]
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        _queue_urls[arn] = url
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
    if attributes:
        params["MessageAttributes"] = attributes
    sqs.send_message(**params)


def _sns_publish(arn: str, body: str, attributes: dict[str, dict[str, str]] | None) -> None:
    region, _ = _region_and_account(arn)
    params: dict[str, Any] = {"TopicArn": arn, "Message": body}
    if attributes:
        params["MessageAttributes"] = attributes
    aws_client("sns", region).publish(**params)


def _events_put(arn: str, invocation: AsyncInvocation, body: str) -> None:
    region, _ = _region_and_account(arn)
    outcome = "Success" if invocation.condition == SUCCESS else "Failure"
    answer = aws_client("events", region).put_events(
        Entries=[
            {
                "Source": "lambda",
                "DetailType": f"Lambda Function Invocation Result - {outcome}",
                "Detail": body,
                "Resources": [arns.function_arn(invocation.account_id, invocation.function_name)],
                "EventBusName": arn,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        entry = answer["Entries"][0]
        raise DeliveryError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def _s3_put(arn: str, invocation: AsyncInvocation, body: str) -> None:
    """An S3 bucket (on failure only) gets the record as a JSON object, keyed by function and
    time as AWS lays them out."""
    bucket = arn.split(":", 5)[5]
    moment = (invocation.finished or timezone.now()).astimezone(UTC)
    key = (
        f"aws/lambda/async/{invocation.function_name}/{moment:%Y/%m/%d}/"
        f"{moment:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
    )
    aws_client("s3", arns.region()).put_object(
        Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json"
    )


def _function_invoke(account: Account, arn: str, record: bytes, trace_header: str = "") -> None:
    """A function destination is invoked asynchronously with the record as its event (in the
    source event's X-Ray trace, if it had one: the next hop of the same request)."""
    ref = arns.parse_function_name(arn)
    if ref is None or ref.account_id != account.id:
        raise DeliveryError(f"The destination ARN {arn} is invalid.")
    target = selectors.invoke_target_resolve(account, ref.name, ref.qualifier)
    acceptance.async_invocation_create(
        target, request_id=str(uuid.uuid4()), payload=record, trace_header=trace_header or None
    )


def _check_target_account(arn: str) -> None:
    """Records are sent with the platform's credentials, not the function's role: only to
    the AWS accounts the operator allows (FUNCTORY_AWS_TARGET_ACCOUNTS), when it says. An S3
    bucket's ARN names no account, so none can be allowed then."""
    allowed = settings.FUNCTORY_AWS_TARGET_ACCOUNTS
    account = _region_and_account(arn)[1]
    if allowed and account not in allowed:
        raise DeliveryError(f"Records can't be sent to account {account or '(none named)'}.")


def sqs_message_send(arn: str, body: str, attributes: dict[str, dict[str, str]]) -> None:
    """Send one message to an SQS queue by ARN, as a dead-letter queue gets one (other apps'
    dead-letter queues: EventBridge targets'); DeliveryError when it can't be."""
    if _service(arn) != "sqs":
        raise DeliveryError(f"{arn} is not an SQS queue.")
    _check_target_account(arn)
    try:
        _sqs_send(arn, body, attributes)
    except Exception as error:  # botocore's ClientError, EndpointConnectionError, ...
        raise DeliveryError(str(error)) from error


def send(invocation: AsyncInvocation, kind: str, arn: str) -> None:
    """Hand one record to its target (raises when it could not)."""
    service = _service(arn)
    if service != "lambda":
        _check_target_account(arn)
    if kind == DEAD_LETTER:
        body = bytes(invocation.payload).decode(errors="replace")
        attributes = dead_letter_attributes(invocation)
        if service == "sqs":
            return _sqs_send(arn, body, attributes)
        if service == "sns":
            return _sns_publish(arn, body, attributes)
        raise DeliveryError(f"A dead-letter target must be an SQS queue or SNS topic: {arn}")
    record = json.dumps(invocation_record(invocation), separators=(",", ":"))
    if service == "lambda":
        return _function_invoke(invocation.account, arn, record.encode(), invocation.trace_header)
    if service == "sqs":
        return _sqs_send(arn, record, None)
    if service == "sns":
        return _sns_publish(arn, record, None)
    if service == "events":
        return _events_put(arn, invocation, record)
    if service == "s3":
        return _s3_put(arn, invocation, record)
    raise DeliveryError(f"Records can't be sent to {arn} (unsupported service {service!r}).")


def _count_failure(invocation: AsyncInvocation, kind: str) -> None:
    series = series_keys(invocation.account_id, invocation.function_name, invocation.qualifier)
    if kind == DEAD_LETTER:
        metrics.dead_letter_error(series)
    else:
        metrics.destination_delivery_failure(series)


def delivery_lease() -> timedelta:
    """Long enough for one record's worst case (two tries of connect + read timeouts, for
    two calls: an SQS queue's URL, then the message)."""
    worst = 2 * 2 * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S)
    return timedelta(seconds=max(float(settings.FUNCTORY_ASYNC_LEASE_SECONDS), worst + 30))


def deliveries_send(invocation_id: int) -> int:
    """Send what an ended event still owes; returns how many records failed.

    Runs in the worker that ended the event (which holds the row's lease) or, if that
    worker died, in whichever worker the sweeper handed the row to.
    """
    invocation = AsyncInvocation.objects.select_related("account").get(pk=invocation_id)
    failures = 0
    pending = list(invocation.deliveries)
    errors = list(invocation.delivery_errors)
    while pending:
        delivery = pending[0]
        # Each send renews the lease first, so a slow target doesn't let the sweeper hand
        # the same records to a second worker meanwhile.
        AsyncInvocation.objects.filter(pk=invocation.pk, delivery_pending=True).update(
            claimed_until=timezone.now() + delivery_lease()
        )
        try:
            send(invocation, delivery["kind"], delivery["arn"])
        except Exception as exc:
            failures += 1
            _count_failure(invocation, delivery["kind"])
            logger.warning(
                "async invocation %s: %s delivery to %s failed: %s",
                invocation.request_id,
                delivery["kind"],
                delivery["arn"],
                exc,
            )
            errors.append({**delivery, "error": f"{type(exc).__name__}: {exc}"[:1000]})
        pending.pop(0)
        # Crossed off one by one, so a worker that dies resends only what is left.
        AsyncInvocation.objects.filter(pk=invocation.pk).update(
            deliveries=pending,
            delivery_errors=errors,
            delivery_pending=bool(pending),
            claimed_until=timezone.now() + delivery_lease() if pending else None,
        )
    return failures
