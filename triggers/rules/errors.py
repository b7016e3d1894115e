"""EventBridge's errors: JSON 1.1, all answered with 400 as the service does."""

from __future__ import annotations

from awsapi.errors import AWSError


class EventsError(AWSError):
    status = 400


class ResourceNotFound(EventsError):
    code = "ResourceNotFoundException"


class Validation(EventsError):
    code = "ValidationException"


class InvalidEventPattern(EventsError):
    code = "InvalidEventPatternException"


class LimitExceeded(EventsError):
    code = "LimitExceededException"


def rule_not_found(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Rule {name} does not exist on EventBus default.")


def bus_not_found(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Event bus {name} does not exist.")
