"""The errors IAM gives for a policy it will not store, as plain exceptions.

The API layer turns them into AWS error responses (``MalformedPolicyDocument`` and
``LimitExceeded``, HTTP 400); this library knows nothing of HTTP.
"""

from __future__ import annotations

SYNTAX_ERRORS = "Syntax errors in policy."


class PolicyError(Exception):
    """A policy document IAM refuses; ``code`` is the AWS error code."""

    code = "MalformedPolicyDocument"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPolicyDocument(PolicyError):
    code = "MalformedPolicyDocument"


class PolicyLimitExceeded(PolicyError):
    code = "LimitExceeded"
