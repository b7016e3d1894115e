"""The AWS query protocol (IAM, STS), driven by the botocore model.

A call is ``POST /`` with a form body ``Action=<Op>&Version=<api version>&...``: scalars by
member name, structures as ``Name.Member``, lists as ``Name.member.N`` and maps as
``Name.entry.N.key`` / ``Name.entry.N.value``. The answer is XML: ``<OpResponse><OpResult>
...</OpResult><ResponseMetadata><RequestId>`` on success, ``<ErrorResponse><Error><Type>
<Code><Message>`` with the status the model gives on failure.

The form is parsed by walking the operation's input shape, so a request can only ever make
us read what the model describes: unknown keys are ignored, lists stop at the first missing
index, and the number of fields and the body size are bounded before anything is parsed.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape as _escape

from botocore.model import OperationModel, Shape
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import observe, validation
from awsapi.apiview import read_body
from awsapi.errors import AWSError, new_request_id
from awsapi.service_models import service_model

logger = logging.getLogger(__name__)

# IAM's largest document is 131,072 characters; URL-encoded, three times that at worst.
MAX_QUERY_BODY = 512 * 1024
MAX_FIELDS = 1_000
# No input shape nests deeper than this, nor names a member this long: a field name past
# either names nothing the model describes (and its prefixes would cost quadratic memory).
MAX_NAME_PARTS = 24
MAX_NAME_LENGTH = 1_024
CONTENT_TYPE = "text/xml"

# (request, request id, body, service) -> what the views receive, or raise an AWSError.
Authenticate = Callable[[HttpRequest, str, bytes, str], object]
# view(api_request, params) -> the output members (None: an operation with no output).
QueryView = Callable[[Any, dict[str, Any]], Mapping[str, Any] | None]

# The codes the JSON protocols' errors have in the query protocol (what the SDKs report).
_QUERY_CODES = {
    "ValidationException": "ValidationError",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ExpiredTokenException": "ExpiredToken",
    "ThrottlingException": "Throttling",
    "RequestEntityTooLargeException": "RequestEntityTooLarge",
    "AccessDeniedException": "AccessDenied",
}


class QueryError(AWSError):
    """An error in the query protocol's own terms (code as the SDKs report it)."""

    status = 400


def invalid_action(action: str, version: str) -> QueryError:
    return QueryError(
        f"Could not find operation {action} for version {version or 'NO_VERSION_SPECIFIED'}",
        code="InvalidAction",
    )


def parse_form(body: bytes) -> dict[str, str]:
    """The form's fields (the last of a repeated name wins), at most ``MAX_FIELDS``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise QueryError("The request body is not valid UTF-8.", code="MalformedInput") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise QueryError(
            f"A request may carry at most {MAX_FIELDS} parameters.", code="MalformedInput"
        ) from None
    return dict(pairs)


class _Form:
    """The fields, with every dotted prefix of their names, so that a list's or map's
    entries are found by probing indexes rather than by scanning every key."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = {
            name: value
            for name, value in fields.items()
            if len(name) <= MAX_NAME_LENGTH and name.count(".") < MAX_NAME_PARTS
        }
        self.prefixes: set[str] = set()
        for name in self.fields:
            parts = name.split(".")
            for end in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:end]))

    def present(self, name: str) -> bool:
        return name in self.fields or name in self.prefixes


def _scalar(shape: Shape, raw: str, name: str) -> Any:
    kind = shape.type_name
    if kind in {"integer", "long"}:
        try:
            return int(raw)
        except ValueError:
            raise QueryError(
                f"Value '{raw[:100]}' at '{name}' is not a valid integer.", code="ValidationError"
            ) from None
    if kind in {"float", "double"}:
        try:
            return float(raw)
        except ValueError:
            raise QueryError(
                f"Value '{raw[:100]}' at '{name}' is not a valid number.", code="ValidationError"
            ) from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in {"true", "false"}:
            raise QueryError(
                f"Value '{raw[:100]}' at '{name}' is not a valid boolean.", code="ValidationError"
            )
        return lowered == "true"
    if kind == "timestamp":
        try:
            parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(
                f"Value '{raw[:100]}' at '{name}' is not a valid timestamp.",
                code="ValidationError",
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return raw


def _value(form: _Form, shape: Shape, name: str) -> Any:
    """The value at form name ``name`` of ``shape``, or None when absent."""
    kind = shape.type_name
    if kind == "structure":
        if name and not form.present(name):
            return None
        result: dict[str, Any] = {}
        for member, member_shape in shape.members.items():
            key = member_shape.serialization.get("name", member)
            value = _value(form, member_shape, f"{name}.{key}" if name else key)
            if value is not None:
                result[member] = value
        return result
    if kind == "list":
        if name in form.fields and form.fields[name] == "":
            return []  # botocore sends an empty list as "Name="
        if not form.present(name):
            return None
        flattened = shape.serialization.get("flattened", False)
        item_name = shape.member.serialization.get("name", "member")
        base = name if flattened else f"{name}.{item_name}"
        items: list[Any] = []
        index = 1
        while form.present(f"{base}.{index}"):
            items.append(_value(form, shape.member, f"{base}.{index}"))
            index += 1
        return items
    if kind == "map":
        if not form.present(name):
            return None
        entries: dict[str, Any] = {}
        index = 1
        while form.present(f"{name}.entry.{index}"):
            key = form.fields.get(f"{name}.entry.{index}.key")
            value = _value(form, shape.value, f"{name}.entry.{index}.value")
            if key is not None:
                entries[key] = value
            index += 1
        return entries
    raw = form.fields.get(name)
    return None if raw is None else _scalar(shape, raw, name)


def parse_params(operation: OperationModel, fields: dict[str, str]) -> dict[str, Any]:
    """The input members of ``operation`` out of the form (typed per the model)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    form = _Form(fields)
    params = _value(form, shape, "")
    return params if isinstance(params, dict) else {}


# ---- XML ------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, even escaped (a message may quote a bad value).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    return _escape(_NOT_XML.sub("\ufffd", text))


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(shape: Shape, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        for member, member_shape in shape.members.items():
            item = value.get(member) if isinstance(value, Mapping) else None
            if item is None:
                continue
            tag = member_shape.serialization.get("name", member)
            out.append(f"<{tag}>")
            _xml(member_shape, item, out)
            out.append(f"</{tag}>")
    elif kind == "list":
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            out.append(f"<{tag}>")
            _xml(shape.member, item, out)
            out.append(f"</{tag}>")
    elif kind == "map":
        for key, item in value.items():
            out.append(f"<entry><key>{escape(str(key))}</key><value>")
            _xml(shape.value, item, out)
            out.append("</value></entry>")
    elif kind == "timestamp":
        out.append(_timestamp(value))
    elif kind == "boolean":
        out.append("true" if value else "false")
    elif shape.name == "policyDocumentType":
        # IAM returns documents URL-encoded; the SDKs decode them (botocore's
        # json_decode_policies).
        out.append(escape(quote(str(value), safe="")))
    else:
        out.append(escape(str(value)))


def render_result(
    operation: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> bytes:
    namespace = operation.service_model.metadata.get("xmlNamespace", "")
    name = operation.name
    out = [f'<{name}Response xmlns="{namespace}">']
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        out.append(f"<{wrapper}>")
        _xml(shape, result or {}, out)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{name}Response>")
    return "".join(out).encode("utf-8")


def error_response(error: AWSError, request_id: str, service: str | None) -> HttpResponse:
    code = _QUERY_CODES.get(error.code, error.code)
    namespace = service_model(service).metadata.get("xmlNamespace", "") if service else ""
    fault = "Sender" if error.status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    response = HttpResponse(body.encode("utf-8"), status=error.status, content_type=CONTENT_TYPE)
    response["x-amzn-RequestId"] = request_id
    return response


# ---- dispatch -------------------------------------------------------------------------


@functools.cache
def _operation(service: str, action: str) -> OperationModel | None:
    model = service_model(service)
    return model.operation_model(action) if action in model.operation_names else None


def is_query_request(request: HttpRequest) -> bool:
    """A ``POST /`` with a form body and no JSON target: a query-protocol call."""
    content_type = request.headers.get("Content-Type", "")
    return (
        request.method == "POST"
        and "X-Amz-Target" not in request.headers
        and content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"
    )


def query_api(
    services: dict[str, dict[str, QueryView]],
    *,
    authenticate: Authenticate,
    service_of: Callable[[HttpRequest, str], str | None],
    authorize: Callable[[object, str, str, dict[str, Any]], None] | None = None,
    max_body: int = MAX_QUERY_BODY,
) -> Any:
    """The query endpoint of several services (``{service: {Action: view}}``) sharing ``/``:
    ``service_of(request, action)`` says which one a call is for (its SigV4 scope)."""

    @csrf_exempt
    def dispatch(request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        service: str | None = None
        action = ""
        api_request: object | None = None
        try:
            body = read_body(request, "Query", max_body)
            fields = parse_form(body)
            action = fields.get("Action", "")
            version = fields.get("Version", "")
            service = service_of(request, action)
            views = services.get(service or "", {})
            view = views.get(action)
            operation = _operation(service, action) if view is not None and service else None
            if operation is None or view is None:
                raise invalid_action(action, version)
            if version != operation.service_model.api_version:
                raise invalid_action(action, version)
            assert service is not None
            api_request = authenticate(request, request_id, body, service)
            params = parse_params(operation, fields)
            validation.validate(service, action, params)
            if authorize is not None:
                authorize(api_request, service, action, params)
            result = view(api_request, params)
            rendered = render_result(operation, result, request_id)
        except AWSError as error:
            _observed(service, action, request, request_id, api_request, error=error)
            return error_response(error, request_id, service)
        except Exception:
            logger.exception("Unhandled error in %s %s (request %s)", service, action, request_id)
            failure = AWSError("An internal error occurred.", code="ServiceFailure", status=500)
            _observed(service, action, request, request_id, api_request, error=failure)
            return error_response(failure, request_id, service)
        _observed(service, action, request, request_id, api_request, result=result)
        return HttpResponse(
            rendered, content_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id}
        )

    return dispatch


def _observed(
    service: str | None,
    action: str,
    request: HttpRequest,
    request_id: str,
    caller: object | None,
    *,
    result: Any = None,
    error: AWSError | None = None,
) -> None:
    """Tell the API call observers (the audit trail) how an IAM or STS call ended."""
    if service is None or not observe.active():
        return
    observe.notify(
        observe.ApiCall(
            service=service,
            operation=action,
            http=request,
            request_id=request_id,
            caller=caller,
            status=error.status if error is not None else 200,
            error=error,
            response=result if error is None and isinstance(result, dict) else None,
        )
    )
