"""The thin shell every AWS API view runs in.

It assigns the request id, bounds and reads the body, has the caller authenticate the
request, and renders any :class:`AWSError` (or an unexpected failure, as
``ServiceException``) in the API's protocol. Views receive the authenticated request and
return an :class:`ApiResponse` of plain data. Who may sign is IAM's business: the views'
wrappers with its authentication are ``iam.authentication.lambda_api`` and ``json_rpc_api``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import observe
from awsapi.errors import (
    AWSError,
    RequestTooLarge,
    json_rpc_error,
    new_request_id,
    rest_json_error,
)

logger = logging.getLogger(__name__)

# Lambda's request limit for control-plane calls carrying a base64 zip (50 MB zipped).
MAX_REQUEST_BYTES = 69_905_067


@dataclass
class ApiResponse:
    """What a view returns: a JSON-able body (or raw bytes), a status, extra headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


ViewFunc = Callable[..., ApiResponse]
AsyncViewFunc = Callable[..., Awaitable[ApiResponse]]
# (request, request id, body, service) -> what the view receives, or raise an AWSError.
Authenticate = Callable[[HttpRequest, str, bytes, str], object]
AsyncAuthenticate = Callable[[HttpRequest, str, bytes, str], Awaitable[object]]
# (what authenticate made, operation, URL kwargs) -> None, or raise AccessDenied: whether
# the caller's policies allow the call, decided before the view runs.
Authorize = Callable[[object, str, dict[str, Any]], None]
AsyncAuthorize = Callable[[object, str, dict[str, Any]], Awaitable[None]]


# Set in the ASGI scope by :class:`RequestBodyLimit` when it stopped reading a body.
BODY_TOO_LARGE = "functory.body_too_large"

# Invoke's (and InvokeAsync's) request limit, 6 MB as Lambda's synchronous payload quota.
INVOKE_MAX_BYTES = 6 * 1024 * 1024
_INVOKE_PATH = re.compile(
    r"^/(?:2015-03-31/functions/[^/]+/invocations|2014-11-13/functions/[^/]+/invoke-async"
    r"|2021-11-15/functions/[^/]+/response-streaming-invocations)/?$"
)


def body_too_large(request: HttpRequest, limit: int) -> bool:
    """Whether the body was cut off unread, or declares more than ``limit`` bytes."""
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get(BODY_TOO_LARGE):
        return True
    declared = request.headers.get("Content-Length", "")
    return declared.isdigit() and int(declared) > limit


class RequestBodyLimit:
    """ASGI middleware: never read more than ``MAX_REQUEST_BYTES`` of a request body.

    Django's ASGI handler reads the whole body (spooling to disk) before any view runs,
    so a check in the view comes too late: a client declaring 1 GB would be waited for,
    and a chunked one with no length read entirely. Here a declared length over the
    limit is not read at all, and a streamed body is cut off once it passes the limit;
    either way the scope is marked and the API view answers 413 with the operation's
    name in AWS's message. Body bytes arriving after the cut-off are discarded unread.
    """

    def __init__(self, app: Any, limit: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        # Invoke takes at most 6 MB: a larger body is refused unread, not spooled first.
        limit = INVOKE_MAX_BYTES if _INVOKE_PATH.match(scope.get("path", "")) else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            scope[BODY_TOO_LARGE] = True
        received = 0
        ended = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal ended, received
            if ended:
                # Django only listens for the disconnect now; drop any body left over.
                while True:
                    message: dict[str, Any] = await receive()
                    if message["type"] != "http.request":
                        return message
            if scope.get(BODY_TOO_LARGE):
                ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    scope[BODY_TOO_LARGE] = True
                    ended = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                ended = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


def _read_body(request: HttpRequest, operation: str, limit: int) -> bytes:
    declared = request.headers.get("Content-Length")
    too_large = RequestTooLarge(
        f"Request must be smaller than {limit} bytes for the {operation} operation"
    )
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get(BODY_TOO_LARGE):
        raise too_large
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = request.body
    if len(body) > limit:
        raise too_large
    return body


def _observed(
    service: str,
    operation: str,
    request: HttpRequest,
    request_id: str,
    caller: object | None,
    *,
    result: ApiResponse | None = None,
    error: Exception | None = None,
    url_kwargs: dict[str, Any] | None = None,
) -> None:
    """Tell the API call observers (the audit trail) how the call ended."""
    if not observe.active():
        return
    aws_error = error if isinstance(error, AWSError) else None
    if error is not None and aws_error is None:
        aws_error = AWSError("An internal error occurred.", code="ServiceException")
    status = aws_error.status if aws_error is not None else (result.status if result else 200)
    body = result.body if result is not None and aws_error is None else None
    observe.notify(
        observe.ApiCall(
            service=service,
            operation=operation,
            http=request,
            request_id=request_id,
            caller=caller,
            status=status,
            error=aws_error,
            response=body,
            url_kwargs=url_kwargs,
        )
    )


read_body = _read_body  # for the other protocols' shells (awsapi.query)


@dataclass(frozen=True)
class _Call:
    """One REST-JSON call as its wrapper saw it (what the observers and the answer need)."""

    service: str
    operation: str
    request: HttpRequest
    request_id: str
    caller: object | None
    url_kwargs: dict[str, Any]


def _rest_json_answer(
    call: _Call, *, result: ApiResponse | None = None, error: Exception | None = None
) -> HttpResponse | StreamingHttpResponse:
    """Tell the observers how the call ended, then answer it (the error, or the result)."""
    _observed(
        call.service,
        call.operation,
        call.request,
        call.request_id,
        call.caller,
        result=result,
        error=error,
        url_kwargs=call.url_kwargs,
    )
    if error is not None:
        return _rest_json_failure(error, call.operation, call.request_id)
    assert result is not None
    try:
        return _render(result, call.request_id)
    except Exception as exc:
        return _rest_json_failure(exc, call.operation, call.request_id)


def _render(result: ApiResponse, request_id: str) -> HttpResponse | StreamingHttpResponse:
    response: HttpResponse | StreamingHttpResponse
    if isinstance(result.body, AsyncIterable):
        # Sent as produced (InvokeWithResponseStream): each item goes out as it comes.
        response = StreamingHttpResponse(result.body, status=result.status)
    elif result.body is None:
        response = HttpResponse(b"", status=result.status)
    elif isinstance(result.body, bytes | bytearray):
        response = HttpResponse(bytes(result.body), status=result.status)
    else:
        response = HttpResponse(
            json.dumps(result.body, separators=(",", ":")),
            status=result.status,
            content_type="application/json",
        )
    for name, value in result.headers.items():
        response[name] = value
    response["x-amzn-RequestId"] = request_id
    return response


def _rest_json_failure(exc: Exception, operation: str, request_id: str) -> HttpResponse:
    """The answer to a call that raised: its AWS error, or (logged) a ServiceException."""
    if isinstance(exc, AWSError):
        return rest_json_error(exc, request_id)
    logger.error("Unhandled error in %s (request %s)", operation, request_id, exc_info=exc)
    return rest_json_error(
        AWSError("An internal error occurred.", code="ServiceException"), request_id
    )


def rest_json_api(
    operation: str,
    *,
    service: str,
    authenticate: Authenticate,
    authorize: Authorize | None = None,
    max_body: int = MAX_REQUEST_BYTES,
) -> Callable[[ViewFunc], Any]:
    """Wrap a REST-JSON view: ``view(api_request, **url_kwargs) -> ApiResponse``, where
    ``api_request`` is what ``authenticate`` made of the call to ``service`` and
    ``authorize`` allowed.

    ``max_body`` may only lower the limit: :class:`RequestBodyLimit` never reads past
    ``MAX_REQUEST_BYTES``.
    """

    def decorator(view: ViewFunc) -> Any:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse | StreamingHttpResponse:
            request_id = new_request_id()
            api_request: object | None = None
            try:
                body = _read_body(request, operation, max_body)
                api_request = authenticate(request, request_id, body, service)
                if authorize is not None:
                    authorize(api_request, operation, kwargs)
                result = view(api_request, **kwargs)
            except Exception as exc:
                call = _Call(service, operation, request, request_id, api_request, kwargs)
                return _rest_json_answer(call, error=exc)
            call = _Call(service, operation, request, request_id, api_request, kwargs)
            return _rest_json_answer(call, result=result)

        wrapper.operation = operation  # type: ignore[attr-defined]
        return wrapper

    return decorator


def rest_json_api_async(
    operation: str,
    *,
    service: str,
    authenticate: AsyncAuthenticate,
    authorize: AsyncAuthorize | None = None,
    max_body: int = MAX_REQUEST_BYTES,
    limit_operation: str | None = None,
    methods: tuple[str, ...] | None = None,
) -> Callable[[AsyncViewFunc], Any]:
    """:func:`rest_json_api` for async views (the Invoke path):
    ``await view(api_request, **url_kwargs) -> ApiResponse``.

    ``limit_operation`` is the operation a too-large body's message names when AWS names
    another than ``operation`` (Invoke's says 'InvokeFunction'); a view routed without
    :func:`method_router` lists its ``methods``, others are an unknown operation.
    """

    def decorator(view: AsyncViewFunc) -> Any:
        @csrf_exempt
        @functools.wraps(view)
        async def wrapper(
            request: HttpRequest, **kwargs: Any
        ) -> HttpResponse | StreamingHttpResponse:
            request_id = new_request_id()
            api_request: object | None = None
            try:
                if methods is not None and request.method not in methods:
                    raise AWSError(
                        "Unknown operation", code="UnknownOperationException", status=404
                    )
                body = _read_body(request, limit_operation or operation, max_body)
                api_request = await authenticate(request, request_id, body, service)
                if authorize is not None:
                    await authorize(api_request, operation, kwargs)
                result = await view(api_request, **kwargs)
            except Exception as exc:
                call = _Call(service, operation, request, request_id, api_request, kwargs)
                return _rest_json_answer(call, error=exc)
            call = _Call(service, operation, request, request_id, api_request, kwargs)
            return _rest_json_answer(call, result=result)

        wrapper.operation = operation  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _render_json_rpc(result: ApiResponse, request_id: str) -> HttpResponse:
    body = b"{}" if result.body is None else json.dumps(result.body, separators=(",", ":"))
    response = HttpResponse(body, status=result.status, content_type="application/x-amz-json-1.1")
    for name, value in result.headers.items():
        response[name] = value
    response["x-amzn-RequestId"] = request_id
    return response


def json_rpc_api(
    service: str,
    target_prefix: str,
    operations: dict[str, ViewFunc],
    *,
    authenticate: Authenticate,
    authorize: Authorize | None = None,
    max_body: int = MAX_REQUEST_BYTES,
) -> Any:
    """A JSON 1.1 endpoint: ``X-Amz-Target: <target_prefix>.<Op>`` picks the view.

    Views are ``view(api_request) -> ApiResponse``; errors render as ``{"__type",
    "message"}``. ``authenticate`` is told the ``service``: a signature must be scoped to
    it, as AWS requires.
    """

    @csrf_exempt
    def dispatch(request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        # rpartition: a target prefix may hold dots (CloudTrail's does).
        prefix, _, operation = request.headers.get("X-Amz-Target", "").rpartition(".")
        view = operations.get(operation) if prefix == target_prefix else None
        api_request: object | None = None
        try:
            if view is None or request.method != "POST":
                raise AWSError("", code="UnknownOperationException", status=400)
            body = _read_body(request, operation, max_body)
            api_request = authenticate(request, request_id, body, service)
            if authorize is not None:
                authorize(api_request, operation, {})
            result = view(api_request)
        except AWSError as error:
            _observed(service, operation, request, request_id, api_request, error=error)
            return json_rpc_error(error, request_id)
        except Exception:
            logger.exception("Unhandled error in %s (request %s)", operation, request_id)
            failure = AWSError("An internal error occurred.", code="ServiceUnavailableException")
            _observed(service, operation, request, request_id, api_request, error=failure)
            return json_rpc_error(failure, request_id)
        _observed(service, operation, request, request_id, api_request, result=result)
        try:
            return _render_json_rpc(result, request_id)
        except Exception:
            logger.exception("Unrenderable answer of %s (request %s)", operation, request_id)
            return json_rpc_error(
                AWSError("An internal error occurred.", code="ServiceUnavailableException"),
                request_id,
            )

    return dispatch


def method_router(**views: Any) -> Any:
    """Dispatch one path to a view per HTTP method, answering others as AWS does."""

    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        view = views.get(request.method or "")
        if view is None:
            return rest_json_error(
                AWSError("Unknown operation", code="UnknownOperationException", status=404),
                new_request_id(),
            )
        response: HttpResponse = view(request, **kwargs)
        return response

    return dispatch
