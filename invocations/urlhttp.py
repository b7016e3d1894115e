"""Function URLs on the wire, as AWS documents them ("Invoking Lambda function URLs"): the
payload-format-2.0 event built from an HTTP request, the HTTP response made of the
function's result, and the CORS headers of the URL's ``Cors`` configuration.

Plain functions over bytes and dicts (no Django, no I/O), so the hot path pays only for
what it uses and every rule can be tested on its own.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

# Request bodies of these types reach the function as text; any other type (or none) is
# base64-encoded with ``isBase64Encoded: true``, so binary bodies survive the JSON event.
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
    }
)

# Headers the platform writes on every answer; a function's own values for them are
# replaced (the length is the body's, the connection is the server's).
_PLATFORM_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)
_CORS_RESPONSE_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
)

Headers = list[tuple[str, str]]


class InvalidFunctionResponse(Exception):
    """The function returned a structured response Lambda cannot turn into HTTP."""


@dataclass
class HttpAnswer:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class RequestFacts:
    """What the event is made of, as received (headers in order, names as sent)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Headers
    body: bytes
    protocol: str
    source_ip: str
    scheme: str = "https"
    port: int = 443


def is_text(content_type: str | None) -> bool:
    """Whether a body of this ``Content-Type`` reaches the function as text."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


def aws_time(epoch_ms: int) -> str:
    """``requestContext.time``: ``12/Mar/2020:19:03:58 +0000`` (English month, UTC)."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{moment.day:02d}/{month[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def query_parameters(raw_query: str) -> dict[str, str]:
    """``queryStringParameters``: decoded, a repeated key's values joined with commas."""
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        name = unquote_plus(key)
        decoded = unquote_plus(value)
        params[name] = f"{params[name]},{decoded}" if name in params else decoded
    return params


def _cookies(values: Iterable[str]) -> list[str]:
    cookies = []
    for value in values:
        cookies += [part.strip() for part in value.split(";") if part.strip()]
    return cookies


def build_event(
    request: RequestFacts,
    *,
    account_id: str,
    url_id: str,
    domain_name: str,
    request_id: str,
    epoch_ms: int,
    iam: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload-format-2.0 event Lambda passes for one URL request.

    Header names are lower-cased and a repeated header's values joined with commas;
    ``Cookie`` headers become ``cookies`` instead. Empty parts are left out, as AWS does.
    """
    headers: dict[str, str] = {}
    cookie_values: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookie_values.append(value)
        elif lower in headers:
            headers[lower] = f"{headers[lower]},{value}"
        else:
            headers[lower] = value
    # As AWS's front end: the client's address appended to any it sent, and the scheme and
    # port it was reached on (a client's own values for those two are replaced).
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    )
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-port"] = str(request.port)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    cookies = _cookies(cookie_values)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    params = query_parameters(request.raw_query)
    if params:
        event["queryStringParameters"] = params
    context: dict[str, Any] = {
        "accountId": "anonymous" if iam is None else account_id,
        "apiId": url_id,
        "domainName": domain_name,
        "domainPrefix": url_id,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": aws_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }
    if iam is not None:
        context["authorizer"] = {"iam": dict(iam)}
    event["requestContext"] = context
    if request.body:
        if is_text(headers.get("content-type")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(request.body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidFunctionResponse(f"header value of type {type(value).__name__}")


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _safe(text: str) -> bool:
    """A header value HTTP/1.1 can carry: Latin-1, no line break or NUL (no splitting)."""
    return not any(ch in text for ch in "\r\n\0") and all(ord(ch) < 256 for ch in text)


def map_result(payload: bytes) -> HttpAnswer:
    """The HTTP response for a function's result (AWS's inference rules).

    A JSON object with ``statusCode`` is a structured response (headers, cookies as
    ``Set-Cookie``, body, base64 flag); any other JSON value (a string included) is the body
    of a 200 ``application/json`` response, exactly as the function returned it.
    """
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError as exc:
        raise InvalidFunctionResponse("not JSON") from exc
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpAnswer(200, [("content-type", "application/json")], payload)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidFunctionResponse("statusCode must be an HTTP status")
    answer = HttpAnswer(status)
    headers = result.get("headers")
    headers = {} if headers is None else headers
    if not isinstance(headers, dict):
        raise InvalidFunctionResponse("headers must be an object")
    for name, value in headers.items():
        text = _header_value(value)
        if not isinstance(name, str) or not _TOKEN.match(name) or not _safe(text):
            raise InvalidFunctionResponse("invalid header")
        if name.lower() not in _PLATFORM_HEADERS:
            answer.headers.append((name.lower(), text))
    cookies = result.get("cookies")
    cookies = [] if cookies is None else cookies
    if not isinstance(cookies, list) or not all(isinstance(c, str) and _safe(c) for c in cookies):
        raise InvalidFunctionResponse("cookies must be a list of strings")
    answer.headers += [("set-cookie", cookie) for cookie in cookies]
    body = result.get("body")
    if body is None:
        body_bytes = b""
    elif isinstance(body, str):
        if result.get("isBase64Encoded") is True:
            try:
                body_bytes = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidFunctionResponse("body is not base64") from exc
        else:
            body_bytes = body.encode("utf-8")
    else:
        # A non-string body is sent as its JSON, as Lambda does.
        body_bytes = json.dumps(body, separators=(",", ":")).encode()
    if not any(name == "content-type" for name, _ in answer.headers) and body_bytes:
        answer.headers.append(("content-type", "application/json"))
    answer.body = body_bytes
    return answer


# -- CORS -----------------------------------------------------------------------------------


def _listed(values: Iterable[str], item: str, *, case_sensitive: bool = True) -> bool:
    for value in values:
        if value == "*" or (value == item if case_sensitive else value.lower() == item.lower()):
            return True
    return False


def _allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` for ``origin``, or None (not allowed)."""
    if not origin:
        return None
    origins = cors.get("AllowOrigins") or []
    # Scheme and host names are case-insensitive; browsers send them lower-cased.
    if origin.lower() in (allowed.lower() for allowed in origins):
        return origin
    if "*" in origins:
        # With credentials a browser refuses '*': the origin itself is echoed.
        return origin if cors.get("AllowCredentials") else "*"
    return None


def cors_headers(cors: Mapping[str, Any], origin: str | None) -> Headers:
    """The CORS headers the URL adds to an actual (non-preflight) response."""
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return []
    headers = [("access-control-allow-origin", allowed)]
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    if cors.get("ExposeHeaders"):
        headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if allowed != "*":
        headers.append(("vary", "Origin"))
    return headers


def is_preflight(method: str, headers: Mapping[str, str], cors: Mapping[str, Any]) -> bool:
    """A CORS preflight the platform answers itself: an ``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method`` on a URL that has a CORS configuration."""
    return (
        bool(cors)
        and method == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def preflight(cors: Mapping[str, Any], headers: Mapping[str, str]) -> HttpAnswer:
    """The answer to a preflight: 200 with the allowed origin, methods and headers when the
    configuration allows the request, else 200 without them (the browser then refuses)."""
    answer = HttpAnswer(200)
    allowed = _allowed_origin(cors, headers.get("origin"))
    method = headers.get("access-control-request-method", "")
    if allowed is None or not _listed(cors.get("AllowMethods") or [], method):
        return answer
    requested = [
        name.strip()
        for name in headers.get("access-control-request-headers", "").split(",")
        if name.strip()
    ]
    allow_headers = cors.get("AllowHeaders") or []
    if not all(_listed(allow_headers, name, case_sensitive=False) for name in requested):
        return answer
    answer.headers.append(("access-control-allow-origin", allowed))
    answer.headers.append(("access-control-allow-methods", ",".join(cors["AllowMethods"])))
    if allow_headers:
        answer.headers.append(("access-control-allow-headers", ",".join(allow_headers)))
    if cors.get("AllowCredentials"):
        answer.headers.append(("access-control-allow-credentials", "true"))
    if cors.get("ExposeHeaders"):
        answer.headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("MaxAge") is not None:
        answer.headers.append(("access-control-max-age", str(cors["MaxAge"])))
    if allowed != "*":
        answer.headers.append(("vary", "Origin"))
    return answer


def prelude_answer(status: int, headers: Mapping[str, str], cookies: list[str]) -> HttpAnswer:
    """The head of a RESPONSE_STREAM URL's response from the function's
    ``HttpResponseStream.from`` prelude, under the rules of a buffered result's."""
    head = {"statusCode": status, "headers": dict(headers), "cookies": list(cookies)}
    answer = map_result(json.dumps(head).encode())
    answer.body = b""
    return answer


def with_cors(answer: HttpAnswer, cors: Mapping[str, Any], origin: str | None) -> HttpAnswer:
    """``answer`` with the URL's CORS headers; where the function set its own, the
    configuration's take precedence (AWS: "the configured CORS headers ... take precedence")."""
    if not cors:
        return answer
    added = cors_headers(cors, origin)
    if added:
        answer.headers = [
            (name, value) for name, value in answer.headers if name not in _CORS_RESPONSE_HEADERS
        ] + added
    return answer
