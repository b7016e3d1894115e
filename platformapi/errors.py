"""Every failure of the platform API, in one shape: ``{"error": {"code", "message",
"field"}}`` with the HTTP status that fits.

``code`` is the AWS error type when a service raised an :class:`~awsapi.errors.AWSError`
(the console shows the API's own words), else a name for DRF's failure; ``field`` names the
input the error is about, so a form can show it next to that control. The type is also in
``x-amzn-ErrorType``, where the AWS SDKs look for it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from awsapi.errors import AWSError, RequestTooLarge

logger = logging.getLogger(__name__)

# DRF's failures, by class, as (status, code). Looked up along the exception's MRO.
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "InvalidRequestContentException",
    exceptions.ValidationError: "InvalidParameterValueException",
    exceptions.NotAuthenticated: "NotAuthenticated",
    exceptions.AuthenticationFailed: "NotAuthenticated",
    exceptions.PermissionDenied: "AccessDeniedException",
    exceptions.NotFound: "ResourceNotFoundException",
    exceptions.MethodNotAllowed: "MethodNotAllowed",
    exceptions.NotAcceptable: "NotAcceptable",
    exceptions.UnsupportedMediaType: "UnsupportedMediaTypeException",
    exceptions.Throttled: "TooManyRequestsException",
}


def _body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int, code: str, message: str, field: str | None = None, **headers: str
) -> Response:
    # x-amzn-ErrorType: where the AWS SDKs read the type, for clients that sign their calls.
    body = _body(code, message, field)
    return Response(body, status=status, headers={"x-amzn-ErrorType": code, **headers})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's ``handler404``: no route matched (or a page raised Http404). A browser asking
    for a page gets Django's page; any other client the API's error, as JSON."""
    if "text/html" in request.headers.get("Accept", ""):
        return defaults.page_not_found(request, exception or Http404())
    code = "ResourceNotFoundException"
    body = _body(code, f"Nothing is at {request.path}.", None)
    return JsonResponse(body, status=404, headers={"x-amzn-ErrorType": code})


def _first_problem(detail: Any, path: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """The first field path and message in a serializer's error tree."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = () if key == "non_field_errors" else (str(key),)
            return _first_problem(value, path + name)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                # A list of messages for one field, or one entry per list item.
                item = () if isinstance(value, str) else (str(index),)
                return _first_problem(value, path + item)
    return (".".join(path) or None), str(detail)


def _form_field(error_fields: dict[str, str], field: str | None) -> str | None:
    """The form field a view names for a serializer path: the path's own entry, else its
    nearest parent's (``files`` covers ``files.3.content``), else the path itself."""
    path = field
    while path:
        if path in error_fields:
            return error_fields[path]
        path = path.rpartition(".")[0]
    return field


def _aws_error(exc: AWSError) -> Response:
    if exc.status >= 500:
        logger.error("platform API service error", exc_info=exc)
    return error_response(exc.status, exc.code, exc.message, getattr(exc, "field", None))


def _drf_error(exc: exceptions.APIException, view: Any) -> Response:
    code = next((_DRF_CODES[k] for k in type(exc).__mro__ if k in _DRF_CODES), "ServiceException")
    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)  # Throttled's seconds to wait
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, round(wait)))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        authenticate = view.get_authenticate_header(view.request) if view else None
        if authenticate:
            headers["WWW-Authenticate"] = authenticate
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_problem(exc.detail)
        field = _form_field(getattr(view, "error_fields", {}), field)
        return error_response(exc.status_code, code, message, field, **headers)
    message = str(exc.detail)
    if isinstance(exc, exceptions.NotAuthenticated):
        message = "Sign in first."
    return error_response(exc.status_code, code, message, None, **headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception a platform view raises becomes an answer;
    none reaches Django's 500 page."""
    view = context.get("view")
    if isinstance(exc, AWSError):
        return _aws_error(exc)
    if isinstance(exc, Http404):
        return error_response(404, "ResourceNotFoundException", str(exc) or "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, "AccessDeniedException", str(exc) or "Access denied.")
    # Django's own form/multipart parsing refuses a body past DATA_UPLOAD_MAX_MEMORY_SIZE or
    # with too many fields or files: the caller's fault, as Django's middleware would answer.
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, RequestTooLarge.code, "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        logger.warning("platform API refused a suspicious request: %s", exc)
        return error_response(
            400, "InvalidRequestContentException", "The request body could not be read."
        )
    if isinstance(exc, exceptions.APIException):
        return _drf_error(exc, view)
    request = context.get("request")
    logger.error("platform API %s failed", getattr(request, "path", "?"), exc_info=exc)
    return error_response(500, "ServiceException", "An internal error occurred.")
