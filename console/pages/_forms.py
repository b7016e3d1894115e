"""Helpers shared by the console's form endpoints: the fetch of the page's function, the
operation's validation, and tying service errors to the form field that caused them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework import serializers

from awsapi.errors import AWSError
from awsapi.validation import validate
from console.pages._request import ConsoleRequest
from functions import selectors
from functions.models import Function
from iam.models import Account

# "Value '5' at 'memorySize' failed to satisfy constraint" names the member that failed.
_VALIDATION_PATH = re.compile(r"at '([A-Za-z][\w.]*)' failed to satisfy")


class FieldError(AWSError):
    """A console input error tied to one form field."""

    code = "InvalidParameterValueException"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def text_field(**kwargs: Any) -> serializers.CharField:
    """A serializer field for a form's text as typed: optional, possibly empty or null,
    spaces kept (the operation's own validation judges the value)."""
    return serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, **kwargs
    )


def account_of(request: ConsoleRequest) -> Account:
    account: Account = request.user.account
    return account


def function_for(request: ConsoleRequest, name: str) -> Function:
    """The signed-in account's function ``name``; anything else is a 404
    (``ResourceNotFound``, which the JSON shell answers with its status)."""
    return selectors.function_get_for_account(account_of(request), name)


def checked(operation: str, params: dict[str, Any], **uri: Any) -> dict[str, Any]:
    """``params`` plus the URI members, validated as the API validates ``operation``."""
    merged = {**params, **uri}
    validate("lambda", operation, merged)
    return merged


def field_of(message: str) -> str | None:
    """The first member path an AWS validation message names, without list indexes."""
    match = _VALIDATION_PATH.search(message)
    if match is None:
        return None
    # "a.1.member.b" -> "a.b"; "a.1.member" -> "a".
    return re.sub(r"\.\d+\.member(?=\.|$)", "", match.group(1))


@contextmanager
def fields(default: str | None = None, by_text: dict[str, str] | None = None) -> Iterator[None]:
    """Tie an error to a form field: by its validation path, else by a text the message
    contains (``by_text`` maps text → field), else ``default``."""
    try:
        yield
    except AWSError as error:
        if getattr(error, "field", None) is None:
            found = error.member or field_of(error.message)
            if found is None:
                found = next(
                    (f for text, f in (by_text or {}).items() if text in error.message), None
                )
            error.field = found or default  # type: ignore[attr-defined]
        raise
