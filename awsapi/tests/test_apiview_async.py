"""The async REST-JSON shell (Invoke's): the same errors as the sync one, with the method
and body limits checked before the caller is authenticated."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from awsapi.apiview import ApiResponse, rest_json_api_async
from awsapi.errors import AWSError, ResourceNotFound

authenticated: list[bytes] = []


async def _authenticate(request: HttpRequest, request_id: str, body: bytes, service: str) -> Any:
    if request.headers.get("Authorization") == "bad":
        raise AWSError("The security token included in the request is invalid.", status=403)
    authenticated.append(body)
    return {"request_id": request_id, "body": body}


@rest_json_api_async(
    "Echo",
    service="lambda",
    authenticate=_authenticate,
    max_body=10,
    limit_operation="EchoFunction",
    methods=("POST",),
)
async def _echo(req: dict[str, Any], name: str) -> ApiResponse:
    if name == "missing":
        raise ResourceNotFound(f"Function not found: {name}")
    if name == "broken":
        raise RuntimeError("a bug")
    return ApiResponse(req["body"], status=202, headers={"Content-Type": "application/json"})


def _call(method: str, name: str, body: bytes = b"{}", **headers: str) -> HttpResponse:
    request = RequestFactory().generic(
        method, f"/echo/{name}", body, content_type="application/json", headers=headers
    )
    response: HttpResponse = asyncio.run(_echo(request, name=name))
    assert response["x-amzn-RequestId"]
    return response


def _error(response: HttpResponse) -> tuple[int, str, str]:
    body = json.loads(response.content)
    return (
        response.status_code,
        response["x-amzn-ErrorType"],
        body.get("Message") or body.get("message"),
    )


def test_the_view_answers_with_its_body_status_and_headers() -> None:
    response = _call("POST", "fn", b'{"a":1}')
    assert (response.status_code, response.content) == (202, b'{"a":1}')
    assert response["Content-Type"] == "application/json"


def test_another_method_is_an_unknown_operation() -> None:
    status, code, _ = _error(_call("GET", "fn"))
    assert (status, code) == (404, "UnknownOperationException")


def test_a_body_over_the_limit_is_refused_before_authentication() -> None:
    authenticated.clear()
    status, code, message = _error(_call("POST", "fn", b"x" * 11, Authorization="bad"))
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert message == "Request must be smaller than 10 bytes for the EchoFunction operation"
    assert authenticated == []


def test_an_authentication_or_service_error_is_rendered_as_lambda_does() -> None:
    assert _error(_call("POST", "fn", Authorization="bad"))[:2] == (403, "ServiceException")
    assert _error(_call("POST", "missing")) == (
        404,
        "ResourceNotFoundException",
        "Function not found: missing",
    )


def test_an_unexpected_failure_is_a_service_exception() -> None:
    assert _error(_call("POST", "broken")) == (
        500,
        "ServiceException",
        "An internal error occurred.",
    )
