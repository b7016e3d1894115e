"""The shell of the console's JSON endpoints (called by the console's own scripts).

Session-authenticated (401 without a login), CSRF-protected by Django's middleware, JSON in
and out. Service errors come back as ``{"error": {"code", "message", "field"}}`` with the
service's HTTP status, so the page can show them next to the control that caused them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException

from awsapi import strictjson
from awsapi.errors import AWSError, ResourceNotFound

logger = logging.getLogger(__name__)


class FieldError(AWSError):
    """A console input error tied to one form field."""

    code = "InvalidParameterValueException"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def error_response(error: AWSError, field: str | None = None) -> JsonResponse:
    body = {
        "code": error.code,
        "message": error.message,
        "field": field or getattr(error, "field", None),
    }
    return JsonResponse({"error": body}, status=error.status)


def request_json(request: HttpRequest) -> dict[str, Any]:
    try:
        body = request.body
    except RawPostDataException:
        # A multipart (or form) body already consumed by the CSRF check: not JSON anyway.
        body = b"\0"
    if not body:
        return {}
    try:
        data = strictjson.loads(body)
    except strictjson.JSONError as exc:
        raise AWSError(
            "The request body is not valid JSON.", code="InvalidRequestContentException", status=400
        ) from exc
    if not isinstance(data, dict):
        raise AWSError(
            "The request body must be a JSON object.",
            code="InvalidRequestContentException",
            status=400,
        )
    return data


ConsoleView = Callable[..., HttpResponse | dict[str, Any] | list[Any] | None]


def _not_signed_in() -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "NotAuthenticated", "message": "Sign in first.", "field": None}},
        status=401,
    )


def _failure(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The JSON answer for an exception a console view raised."""
    if isinstance(exc, AWSError):
        return error_response(exc)
    if isinstance(exc, Http404):
        return error_response(ResourceNotFound(str(exc) or "Not found."))
    logger.error("console endpoint %s failed", request.path, exc_info=exc)
    return error_response(AWSError("An internal error occurred."))


def _success(result: HttpResponse | dict[str, Any] | list[Any] | None) -> HttpResponse:
    if isinstance(result, HttpResponse):
        return result
    if result is None:
        return HttpResponse(status=204)
    return JsonResponse(result, safe=False)


def console_json(view: ConsoleView) -> Callable[..., HttpResponse]:
    """Wrap a console JSON view: ``view(request, **kwargs) -> data | HttpResponse``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _not_signed_in()
        try:
            return _success(view(request, **kwargs))
        except Exception as exc:
            return _failure(request, exc)

    return wrapper


AsyncConsoleView = Callable[..., Awaitable[HttpResponse | dict[str, Any] | list[Any] | None]]


def console_json_async(
    view: AsyncConsoleView,
) -> Callable[..., Coroutine[Any, Any, HttpResponse]]:
    """:func:`console_json` for async views (``request.user`` is loaded before the call)."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        user = await request.auser()
        if not user.is_authenticated:
            return _not_signed_in()
        try:
            return _success(await view(request, **kwargs))
        except Exception as exc:
            return _failure(request, exc)

    return wrapper
