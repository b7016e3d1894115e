"""CloudWatch Logs' errors: every client fault is a 400 with AWS's message text."""

from __future__ import annotations

from awsapi.errors import AWSError


class InvalidParameter(AWSError):
    code = "InvalidParameterException"
    status = 400


class ResourceNotFound(AWSError):
    code = "ResourceNotFoundException"
    status = 400


class ResourceAlreadyExists(AWSError):
    code = "ResourceAlreadyExistsException"
    status = 400


class SerializationError(AWSError):
    code = "SerializationException"
    status = 400


class MalformedQuery(AWSError):
    code = "MalformedQueryException"
    status = 400


class LimitExceeded(AWSError):
    code = "LimitExceededException"
    status = 400


def group_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")


def stream_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log stream does not exist.")


def invalid_token() -> InvalidParameter:
    return InvalidParameter("The specified nextToken is invalid.")
