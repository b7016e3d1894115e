"""How a poller runs its function: a synchronous invocation, as the Invoke API makes one.

The same path as ``Invoke`` with ``RequestResponse``: the function's concurrency (a throttle
is an answer, not an exception to the poller), its logs and metrics, aliases and versions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Protocol

from awsapi.errors import AWSError
from invocations import services
from triggers.pollers.config import MappingConfig


@dataclass(frozen=True)
class Outcome:
    """What one invocation answered."""

    payload: bytes
    # None for success; "Unhandled" / "Handled" as the Invoke API's X-Amz-Function-Error.
    function_error: str | None


class Throttled(Exception):
    """The function is at its concurrency limit: try the batch again a little later."""


class InvokeProblem(Exception):
    """The function could not be invoked (deleted, an unknown runtime...): the message is
    the mapping's LastProcessingResult."""


class Invoker(Protocol):
    async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome: ...


def record_trace_header(payload: bytes) -> str | None:
    """The X-Ray header a producer gave the batch's first traced record (SQS's
    ``attributes.AWSTraceHeader``): the invocation continues that trace, as on AWS. Looked
    for only when the batch mentions one (no parse of every batch)."""
    if b"AWSTraceHeader" not in payload:
        return None
    try:
        records = json.loads(payload).get("Records", [])
    except (ValueError, RecursionError, AttributeError):
        return None
    for record in records if isinstance(records, list) else []:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        header = attributes.get("AWSTraceHeader") if isinstance(attributes, dict) else None
        if isinstance(header, str):
            return header
    return None


async def invoke(config: MappingConfig, payload: bytes) -> Outcome:
    """Invoke the mapping's function with ``payload`` and wait for its answer."""
    try:
        target = await services.invoke_target(
            config.account, config.function_name, config.qualifier
        )
        invocation = await services.invoke_sync(
            target,
            request_id=str(uuid.uuid4()),
            payload=payload,
            trace_header=record_trace_header(payload),
        )
    except AWSError as error:
        if error.code == "TooManyRequestsException":
            raise Throttled(error.message) from error
        if error.code == "ResourceNotFoundException":
            raise InvokeProblem("PROBLEM: Function not found") from error
        raise InvokeProblem(f"PROBLEM: Function call failed: {error.code}") from error
    result = invocation.result
    return Outcome(payload=result.payload, function_error=result.function_error)
