"""The embedded profile's one executor: the worker runs functions in the server process.

DESIGN.md puts the embedded profile's executor in the server process. Its Celery worker is
another process, so instead of keeping a second environment pool (twice the warm
environments, and concurrency counted apart from the server's) it hands each attempt to the
server over a local endpoint signed with the server's secret (``FUNCTORY_EXECUTOR_URL``,
set by ``manage.py serve``), a batch of attempts per request. The server runs them side
by side through the same ``invoke_sync`` path as the Invoke API, stores their log lines,
then answers.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from awsapi import internal
from awsapi.errors import AWSError
from invocations.models import AsyncInvocation

# Beyond the function's own timeout: the request, a cold start's queueing, the log flush.
MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Attempt:
    """What an asynchronous attempt needs to know of the invocation it ran."""

    payload: bytes
    function_error: str | None
    executed_version: str


def _attempt_fields(invocation: AsyncInvocation) -> dict[str, Any]:
    return {
        "AccountId": invocation.account_id,
        "FunctionName": invocation.function_name,
        "Qualifier": invocation.qualifier or None,
        "RequestId": invocation.request_id,
        "Payload": base64.b64encode(bytes(invocation.payload)).decode(),
        "ClientContext": invocation.client_context or None,
        "TraceHeader": invocation.trace_header or None,
        "QueuedAt": invocation.created.timestamp(),
        "Attempt": invocation.attempts,
    }


def request_body(batch: list[AsyncInvocation]) -> bytes:
    return json.dumps({"Attempts": [_attempt_fields(invocation) for invocation in batch]}).encode()


def _outcome(answer: dict[str, Any]) -> Attempt | AWSError:
    failure = answer.get("Error")
    if failure is not None:
        return AWSError(failure["message"], code=failure["code"], status=failure["status"])
    return Attempt(
        payload=base64.b64decode(answer["Payload"]),
        function_error=answer.get("FunctionError"),
        executed_version=answer["ExecutedVersion"],
    )


def invoke(batch: list[AsyncInvocation], timeout_s: float) -> list[Attempt | AWSError]:
    """Run one attempt of each event in the server process, side by side, in one request:
    each comes back as what it returned or the AWSError it was answered with (a throttle, a
    missing function). Raises AWSError or OSError when the request as a whole failed."""
    body = request_body(batch)
    request = urllib.request.Request(
        settings.FUNCTORY_EXECUTOR_URL,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", internal.HEADER: internal.signature(body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s + MARGIN_SECONDS) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 403:
            raise
        failure = json.loads(error.read() or b"{}")
        raise AWSError(
            failure.get("message", "The server could not run the invocations."),
            code=failure.get("code", "ServiceException"),
            status=error.code,
        ) from None
    outcomes = [_outcome(outcome) for outcome in answer["Outcomes"]]
    if len(outcomes) != len(batch):
        raise AWSError("The server answered for other invocations.", code="ServiceException")
    return outcomes
