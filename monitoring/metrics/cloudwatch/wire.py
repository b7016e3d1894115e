"""CloudWatch's two wire forms that current clients use, for the same operations.

- AWS JSON 1.0: ``POST /`` with ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``, JSON
  bodies, timestamps as epoch seconds. botocore (and so boto3 and the AWS CLI) picks it.
- Smithy RPC v2 CBOR: ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with
  ``smithy-protocol: rpc-v2-cbor``, CBOR bodies, timestamps as tag 1; the model lists it
  first and other SDKs choose it.

The service is query-compatible: errors carry ``x-amzn-query-error`` with the query
protocol's code (``InvalidParameterValue``), which is what clients report. Handlers answer
plain dicts whose timestamps are ``datetime``s; each form encodes them its own way.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import zlib
from typing import Any

from django.http import HttpResponse

from awsapi import cbor, strictjson
from awsapi.errors import AWSError

TARGET_PREFIX = "GraniteServiceVersion20100801"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
CBOR_CONTENT_TYPE = "application/cbor"
SMITHY_NAMESPACE = "com.amazonaws.cloudwatch"
# Error shape name -> the query protocol's code (the model's ``awsQueryError``).
QUERY_CODES = {
    "InvalidParameterValueException": "InvalidParameterValue",
    "MissingRequiredParameterException": "MissingParameter",
    "InvalidParameterCombinationException": "InvalidParameterCombination",
    "InternalServiceFault": "InternalServiceError",
    "ThrottlingException": "Throttling",
    "ValidationException": "ValidationError",
    "InvalidNextToken": "InvalidNextToken",
    "LimitExceededFault": "LimitExceeded",
    "InvalidFormatFault": "InvalidFormat",
    "ResourceNotFound": "ResourceNotFound",
    "ResourceNotFoundException": "ResourceNotFoundException",
}


class Form(enum.Enum):
    JSON = "json"
    CBOR = "cbor"


def parse(body: bytes, form: Form) -> dict[str, Any]:
    """The request's members; SerializationException for a body that is not an object."""
    if not body.strip() if form is Form.JSON else not body:
        return {}
    try:
        params = strictjson.loads(body, non_finite=True) if form is Form.JSON else cbor.loads(body)
    except (strictjson.JSONError, cbor.CBORError) as exc:
        kind = "JSON" if form is Form.JSON else "CBOR"
        raise AWSError(
            f"Malformed {kind} body: {exc}", code="SerializationException", status=400
        ) from exc
    if not isinstance(params, dict):
        raise AWSError(
            "The request body must be an object.", code="SerializationException", status=400
        )
    return dict(strictjson.nul_replaced(params))


def gunzip(body: bytes, limit: int) -> bytes:
    """A gzip body expanded, refused once it grows past ``limit`` (a small body may be a
    bomb) or when it is not gzip."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        expanded = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise AWSError(
            f"The gzip body cannot be read: {exc}", code="SerializationException", status=400
        ) from None
    if len(expanded) > limit or inflater.unconsumed_tail:
        raise AWSError(
            f"Request size exceeded {limit} bytes once decompressed",
            code="RequestEntityTooLarge",
            status=413,
        )
    if not inflater.eof:
        raise AWSError("The gzip body is truncated.", code="SerializationException", status=400)
    return expanded


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def answer(body: dict[str, Any], form: Form, request_id: str, status: int = 200) -> HttpResponse:
    if form is Form.JSON:
        response = HttpResponse(
            json.dumps(body, default=_json_default, allow_nan=False),
            status=status,
            content_type=JSON_CONTENT_TYPE,
        )
    else:
        response = HttpResponse(cbor.dumps(body), status=status, content_type=CBOR_CONTENT_TYPE)
        response["smithy-protocol"] = "rpc-v2-cbor"
    response["x-amzn-RequestId"] = request_id
    return response


def error_answer(error: AWSError, form: Form, request_id: str) -> HttpResponse:
    kind = error.code if form is Form.JSON else f"{SMITHY_NAMESPACE}#{error.code}"
    response = answer({"__type": kind, "message": error.message}, form, request_id, error.status)
    response["x-amzn-ErrorType"] = error.code
    query_code = QUERY_CODES.get(error.code)
    if query_code is not None:
        fault = "Sender" if error.status < 500 else "Receiver"
        response["x-amzn-query-error"] = f"{query_code};{fault}"
    return response
