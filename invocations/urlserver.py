"""Serving function URLs: an ASGI app in front of Django, straight onto the environment pool.

A request is a URL request when its Host is ``<url-id>.lambda-url.<region>.<domain>`` with
``FUNCTORY_URL_DOMAIN`` set (any host under that suffix, valid or not, is answered here and
never reaches the console or the APIs), or when its path starts with ``/lambda-url/``.

Like the Invoke path: no middleware, no Celery, and on a warm call no thread hop (the URL's
settings and the signer's key come from per-process caches). Each request is an ordinary
synchronous invocation (concurrency, throttles, logs, metrics) plus the URL metrics.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest

from awsapi.errors import AuthError, AWSError, new_request_id
from functions import arns
from iam import access
from iam.access import callers, enforce
from iam.authentication import verify_async
from iam.models import TemporaryCredential
from iam.policy import Principal
from iam.policy.context import ContextValue
from invocations import selectors, services, urlhttp
from invocations.selectors import URL_ID, UrlTarget
from invocations.urlhttp import HttpAnswer
from monitoring.metrics.recorder import recorder as metrics
from monitoring.metrics.recorder import series_keys

logger = logging.getLogger(__name__)

PATH_PREFIX = "/lambda-url/"
# AWS's quota for a function URL's request and (buffered) response payload.
MAX_PAYLOAD_BYTES = services.MAX_PAYLOAD_BYTES
# The HTTP server takes headers of any size; the event copies them, so they are bounded here.
MAX_HEADER_BYTES = 64 * 1024

FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


@dataclass(frozen=True)
class UrlRoute:
    """Where a URL request goes: the url id as written (maybe invalid), the path the
    function sees, and the domain name the event reports."""

    url_id: str
    raw_path: str
    domain_name: str
    # Served under /lambda-url/ on the console's own host: see _ON_CONSOLE_HOST.
    path_form: bool = False


def _host(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"host":
            return str(value.decode("latin-1"))
    return ""


def _raw_path(scope: dict[str, Any]) -> str:
    raw = scope.get("raw_path")
    if raw:
        return str(raw.decode("latin-1").split("?", 1)[0])
    return quote(scope.get("path", "/"), safe="/~!$&'()*+,;=:@-._")


def route(scope: dict[str, Any]) -> UrlRoute | None:
    """The URL request ``scope`` is, or None (not for a function URL)."""
    domain = settings.FUNCTORY_URL_DOMAIN
    raw_path = _raw_path(scope)
    if domain:
        host = _host(scope)
        # Host names are case-insensitive; a port is not part of the URL's name.
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.lower().rstrip(".")
        suffix = f".lambda-url.{arns.region()}.{domain.lower()}"
        if name.endswith(suffix):
            return UrlRoute(url_id=name[: -len(suffix)], raw_path=raw_path, domain_name=name)
    if raw_path == PATH_PREFIX.rstrip("/") or raw_path.startswith(PATH_PREFIX):
        url_id, slash, rest = raw_path[len(PATH_PREFIX) :].partition("/")
        return UrlRoute(
            url_id=url_id, raw_path=slash + rest or "/", domain_name=_host(scope), path_form=True
        )
    return None


def _json_answer(status: int, message: str, error_type: str | None = None) -> HttpAnswer:
    answer = HttpAnswer(
        status,
        [("content-type", "application/json")],
        json.dumps({"Message": message}, separators=(",", ":")).encode(),
    )
    if error_type:
        answer.headers.append(("x-amzn-errortype", error_type))
    return answer


def forbidden() -> HttpAnswer:
    return _json_answer(403, FORBIDDEN, "AccessDeniedException")


def _internal_error() -> HttpAnswer:
    # What a URL answers when the function failed, timed out or returned an unusable result.
    return HttpAnswer(502, [("content-type", "application/json")], b"Internal Server Error")


def _too_large() -> HttpAnswer:
    return _json_answer(
        413,
        f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
        "RequestEntityTooLargeException",
    )


class _BodyTooLarge(Exception):
    pass


@dataclass
class _Streaming:
    """A RESPONSE_STREAM URL's response: its head (status, headers with CORS), the body's
    first piece already read, and the rest as the function writes it."""

    head: HttpAnswer
    first: bytes
    rest: Any  # the invocation's iterator, after the first piece
    invocation: services.StreamInvocation


# What a RESPONSE_STREAM URL answers with when the function sent no HttpResponseStream.from
# prelude: its bytes as they are.
STREAM_CONTENT_TYPE = "application/octet-stream"


async def _read_body(scope: dict[str, Any], receive: Any) -> bytes:
    """The request body, refused unread past ``MAX_PAYLOAD_BYTES`` (declared or streamed)."""
    for name, value in scope.get("headers") or []:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_PAYLOAD_BYTES:
            raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away: nothing to answer.
            raise ConnectionAbortedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _url_target(url_id: str) -> UrlTarget | None:
    if not URL_ID.match(url_id):
        return None
    cached = selectors.url_target_cached(url_id)
    if cached is not None:
        return cached[1]
    resolve = database_sync_to_async(selectors.url_target_resolve, thread_sensitive=False)
    target: UrlTarget | None = await resolve(url_id)
    return target


async def _caller(
    scope: dict[str, Any], body: bytes, target: UrlTarget
) -> tuple[Principal, dict[str, Any]] | None:
    """(principal, ``authorizer.iam``) of a SigV4 signer whose own policies allow
    ``lambda:InvokeFunctionUrl`` on the URL's function, or None."""
    request = ASGIRequest(scope, io.BytesIO(body))
    try:
        identity = await verify_async(request, body, service="lambda")
    except (AuthError, AWSError):
        return None
    key = identity.access_key
    try:
        await access.authorize_async(
            key,
            key.user,
            identity.region,
            request,
            "lambda",
            "InvokeFunctionUrl",
            {"FunctionName": target.function_arn, "AuthType": target.auth_type},
        )
    except AWSError:
        return None
    if isinstance(key, TemporaryCredential):
        # A session (an assumed role's, possibly of another account) is its own caller.
        account_id, user_arn, caller_id = key.account_id, key.arn, key.caller_id
    else:
        user = key.user
        account_id, user_arn, caller_id = user.account_id, user.arn, user.iam_id
    iam = {
        "accessKey": key.access_key_id,
        "accountId": account_id,
        "callerId": caller_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": user_arn,
        "userId": caller_id,
    }
    principal, _ = callers.principal_of(key, key.user)
    return principal, iam


def _request_keys(scope: dict[str, Any]) -> dict[str, ContextValue]:
    """The global condition keys of a URL request (``aws:SourceIp``, the time...)."""
    client = scope.get("client") or ("", 0)
    secure = scope.get("scheme") == "https"
    return enforce.request_conditions(str(client[0]), secure, arns.region())


# A path-form URL shares its origin with the console, so a tenant's function must get none
# of the console's cookies (a signed-in user who opens the URL would hand over their
# session), set none of them (session fixation, a forged CSRF cookie), and run no script as
# the console's origin: its answers are sandboxed (an opaque origin; scripts, forms and
# pop-ups still work). The host form, on a domain of its own, needs none of this.
_SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"


def _console_cookies() -> frozenset[str]:
    return frozenset({settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME})


def _without_console_cookies(header: str) -> str:
    names = _console_cookies()
    kept = [
        part
        for part in header.split(";")
        if part.strip() and part.split("=", 1)[0].strip() not in names
    ]
    return ";".join(kept).strip()


def _on_console_host(answer: HttpAnswer) -> HttpAnswer:
    """``answer`` as a path-form URL may send it: no console cookie set, sandboxed."""
    names = {name.lower() for name in _console_cookies()}
    answer.headers = [
        (name, value)
        for name, value in answer.headers
        if not (name == "set-cookie" and value.split("=", 1)[0].strip().lower() in names)
    ]
    answer.headers.append(("content-security-policy", _SANDBOX))
    return answer


def _facts(scope: dict[str, Any], route_: UrlRoute, body: bytes) -> urlhttp.RequestFacts:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in scope.get("headers") or []
    ]
    if route_.path_form:
        headers = [
            (name, _without_console_cookies(value) if name.lower() == "cookie" else value)
            for name, value in headers
        ]
        headers = [(name, value) for name, value in headers if value or name.lower() != "cookie"]
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    version = scope.get("http_version", "1.1")
    return urlhttp.RequestFacts(
        method=scope.get("method", "GET"),
        raw_path=route_.raw_path,
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        protocol=f"HTTP/{version}",
        source_ip=str(client[0]),
        scheme=str(scope.get("scheme", "http")),
        port=int(server[1] or 0),
    )


async def _stream(
    invoke_target: Any,
    request_id: str,
    payload: bytes,
    cors: dict[str, Any],
    origin: str | None,
    trace_header: str | None = None,
) -> HttpAnswer | _Streaming:
    """Start a RESPONSE_STREAM invocation and read up to its first body piece: until then a
    failure is still an ordinary error answer; after it, the head is sent and the body
    follows as written."""
    invocation = await services.invoke_stream(
        invoke_target,
        request_id=request_id,
        payload=payload,
        http_prelude=True,
        trace_header=trace_header,
    )
    items = aiter(invocation)
    prelude: services.HttpPrelude | None = None
    first = b""
    async for item in items:
        if isinstance(item, services.HttpPrelude):
            prelude = item
            continue
        first = item
        break
    outcome = invocation.outcome
    if outcome is not None and outcome.error_type is not None and not first:
        return _internal_error()
    if not invocation.streamed:
        # A function that does not stream (a Python handler) answered as a whole: its result
        # is mapped as a buffered URL's would be.
        body = first + b"".join([piece async for piece in items if isinstance(piece, bytes)])
        try:
            answer = urlhttp.map_result(body)
        except urlhttp.InvalidFunctionResponse:
            return _internal_error()
        return urlhttp.with_cors(answer, cors, origin)
    try:
        head = (
            urlhttp.prelude_answer(prelude.status_code, prelude.headers, prelude.cookies)
            if prelude is not None
            else HttpAnswer(200, [("content-type", STREAM_CONTENT_TYPE)])
        )
    except urlhttp.InvalidFunctionResponse:
        await invocation.aclose()
        return _internal_error()
    return _Streaming(urlhttp.with_cors(head, cors, origin), first, items, invocation)


async def _answer(
    scope: dict[str, Any], receive: Any, route_: UrlRoute, request_id: str
) -> tuple[HttpAnswer | _Streaming, UrlTarget | None]:
    target = await _url_target(route_.url_id)
    if target is None:
        return forbidden(), None
    lower = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers") or []
    }
    if sum(len(name) + len(value) for name, value in scope.get("headers") or []) > MAX_HEADER_BYTES:
        return _json_answer(431, "Request Header Fields Too Large"), target
    if len(route_.raw_path) + len(scope.get("query_string", b"")) > MAX_HEADER_BYTES:
        return _json_answer(414, "Request-URI Too Long"), target
    method = scope.get("method", "GET")
    if urlhttp.is_preflight(method, lower, target.cors):
        return urlhttp.preflight(target.cors, lower), target
    keys = partial(_request_keys, scope)  # computed only if the policy asks
    if target.auth_type != "AWS_IAM" and not selectors.url_access_allowed(
        target, selectors.ANONYMOUS, keys
    ):
        # Refused before its body is read: nothing of it is needed.
        return forbidden(), target
    try:
        body = await _read_body(scope, receive)
    except _BodyTooLarge:
        return _too_large(), target
    iam: dict[str, Any] | None = None
    if target.auth_type == "AWS_IAM":
        caller = await _caller(scope, body, target)
        if caller is None:
            return forbidden(), target
        principal, iam = caller
        if not selectors.url_access_allowed(target, principal, keys):
            return forbidden(), target
    epoch_ms = time.time_ns() // 1_000_000
    event = urlhttp.build_event(
        _facts(scope, route_, body),
        account_id=target.account.id,
        url_id=target.url_id,
        domain_name=route_.domain_name,
        request_id=request_id,
        epoch_ms=epoch_ms,
        iam=iam,
    )
    payload = json.dumps(event, separators=(",", ":")).encode()
    try:
        invoke_target = await services.invoke_target(
            target.account, target.function_name, target.qualifier
        )
        if target.invoke_mode == "RESPONSE_STREAM":
            streaming = await _stream(
                invoke_target,
                request_id,
                payload,
                target.cors,
                lower.get("origin"),
                lower.get("x-amzn-trace-id"),
            )
            return streaming, target
        # A caller's X-Ray header continues its trace, as through API Gateway.
        done = await services.invoke_sync(
            invoke_target,
            request_id=request_id,
            payload=payload,
            trace_header=lower.get("x-amzn-trace-id"),
        )
    except AWSError as error:
        if error.status == 429:
            return _json_answer(429, "Rate Exceeded.", "TooManyRequestsException"), target
        if error.status == 404:
            # The URL's function or alias went away since the URL was cached.
            return forbidden(), target
        logger.warning("Function URL %s: %s", target.url_id, error.message)
        return _internal_error(), target
    if done.result.function_error or len(done.result.payload) > MAX_PAYLOAD_BYTES:
        return _internal_error(), target
    try:
        answer = urlhttp.map_result(done.result.payload)
    except urlhttp.InvalidFunctionResponse:
        return _internal_error(), target
    return urlhttp.with_cors(answer, target.cors, lower.get("origin")), target


def _head(answer: HttpAnswer, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    headers.append((b"x-amzn-requestid", request_id.encode()))
    return headers


async def _send(send: Any, answer: HttpAnswer, request_id: str, head_only: bool) -> None:
    headers = _head(answer, request_id)
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else answer.body})


async def _send_stream(send: Any, streaming: _Streaming, request_id: str) -> int:
    """Send a RESPONSE_STREAM answer as the function writes it (chunked); the status sent.

    A function that fails after its first byte cannot change the status any more: the
    response is cut off (no final chunk), so the client sees it incomplete, not whole.
    """
    head = streaming.head
    await send(
        {"type": "http.response.start", "status": head.status, "headers": _head(head, request_id)}
    )
    if streaming.first:
        await send({"type": "http.response.body", "body": streaming.first, "more_body": True})
    async for piece in streaming.rest:
        if isinstance(piece, bytes) and piece:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
    outcome = streaming.invocation.outcome
    if outcome is not None and outcome.error_type is not None:
        raise _StreamBroken(outcome.error_type)
    await send({"type": "http.response.body", "body": b""})
    return head.status


class _StreamBroken(Exception):
    """The function failed mid-stream: the response must end incomplete."""


async def serve(route_: UrlRoute, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer one function URL request."""
    started = time.perf_counter()
    request_id = new_request_id()
    try:
        answer, target = await _answer(scope, receive, route_, request_id)
    except ConnectionAbortedError:
        return
    except Exception:
        logger.exception("Function URL request %s failed", request_id)
        answer, target = _json_answer(500, "Internal Server Error"), None
    if route_.path_form:
        _on_console_host(answer.head if isinstance(answer, _Streaming) else answer)
    if isinstance(answer, _Streaming):
        status = answer.head.status
        try:
            await _send_stream(send, answer, request_id)
        except _StreamBroken as broken:
            status = 502
            logger.info("Function URL stream %s ended by %s", request_id, broken)
        finally:
            await _close(answer.rest)
    else:
        status = answer.status
        await _send(send, answer, request_id, scope.get("method") == "HEAD")
    if target is not None:
        metrics.url_request(
            series_keys(target.account.id, target.function_name, target.qualifier),
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


async def _close(items: Any) -> None:
    """Let go of a stream (a client that left, or an end): its invocation is abandoned."""
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
