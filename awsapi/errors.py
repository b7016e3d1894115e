"""AWS-style errors, shared by every API.

Services raise :class:`AWSError`; the API layer renders it in the protocol of the API that
was called (REST-JSON for Lambda, JSON 1.1 for CloudWatch Logs) with ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from botocore.model import NoShapeFoundError
from django.http import HttpResponse

from awsapi.service_models import service_model


class AWSError(Exception):
    """An error the client caused or should see, with AWS's type, status and message."""

    code = "ServiceException"
    status = 500
    sender_fault = False
    # The request member the error is about, when the service knows it (its validation path,
    # e.g. 'destinationConfig.onSuccess.destination'): a form shows the error next to it.
    member: str | None = None

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **fields: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields


class InvalidParameterValue(AWSError):
    code = "InvalidParameterValueException"
    status = 400


class ValidationError(AWSError):
    code = "ValidationException"
    status = 400


class InvalidRequestContent(AWSError):
    code = "InvalidRequestContentException"
    status = 400


class ResourceNotFound(AWSError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflict(AWSError):
    code = "ResourceConflictException"
    status = 409


class PreconditionFailed(AWSError):
    code = "PreconditionFailedException"
    status = 412


class RequestTooLarge(AWSError):
    code = "RequestEntityTooLargeException"
    status = 413


class CodeStorageExceeded(AWSError):
    code = "CodeStorageExceededException"
    status = 400


class PolicyLengthExceeded(AWSError):
    code = "PolicyLengthExceededException"
    status = 400


class AccessDenied(AWSError):
    code = "AccessDeniedException"
    status = 403


class UnknownOperation(AWSError):
    code = "UnknownOperationException"
    status = 404


class AuthError(AWSError):
    """A request that failed authentication; always 403 as AWS answers."""

    status = 403


def new_request_id() -> str:
    return str(uuid.uuid4())


@functools.cache
def _lambda_error_members(code: str) -> tuple[str, bool]:
    """(message member name, has ``Type``) of a Lambda error shape, per the model.

    Lambda's error shapes differ: some spell ``Message``, others ``message``. Errors the
    model does not list (authentication) answer ``{"message": ...}`` as AWS's front end does.
    """
    try:
        members = service_model("lambda").shape_for(code).members
    except NoShapeFoundError:
        return "message", False
    return ("message" if "message" in members else "Message"), "Type" in members


def rest_json_error(error: AWSError, request_id: str) -> HttpResponse:
    """Render as Lambda does: ``{"Type": "User", "Message": ...}`` plus the error header."""
    message_key, has_type = _lambda_error_members(error.code)
    body: dict[str, Any] = {}
    if has_type:
        body["Type"] = "User" if error.status < 500 else "Service"
    body[message_key] = error.message
    body.update(error.fields)
    response = HttpResponse(json.dumps(body), status=error.status, content_type="application/json")
    response["x-amzn-ErrorType"] = error.code
    response["x-amzn-RequestId"] = request_id
    return response


def json_rpc_error(error: AWSError, request_id: str) -> HttpResponse:
    """Render as JSON 1.1 services (CloudWatch Logs) do: ``__type`` and ``message``."""
    body: dict[str, Any] = {"__type": error.code, "message": error.message}
    body.update(error.fields)
    response = HttpResponse(
        json.dumps(body), status=error.status, content_type="application/x-amz-json-1.1"
    )
    response["x-amzn-ErrorType"] = error.code
    response["x-amzn-RequestId"] = request_id
    return response
