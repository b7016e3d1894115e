"""The platform API's shell, in process: who may call, what bodies are read, how every
failure is answered, how fast one user may go, and the schema it publishes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import path
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi.errors import ResourceConflict
from console.urls import urlpatterns as console_urls
from functions.tests.factories import function_row
from iam import services
from platformapi.views import SignedInRequest

pytestmark = pytest.mark.django_db

EVENTS = "/functions/mine/test/events"


def _client(csrf: bool = False, account_id: str = "444444444444", name: str = "owner") -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(username=name, account=account, password="pw-1234567890", is_admin=True)
    function_row(account, "mine")
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=name, password="pw-1234567890")
    return client


def _post(client: Client, url: str, body: bytes | str, **headers: Any) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["x-amzn-ErrorType"] == code
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "field"}
    return error


# Views that exist only for these tests: a failure the code did not expect, a service
# error, and a nested serializer's error path.
class _Nested(serializers.Serializer[Any]):
    path = serializers.CharField(max_length=3)


class _Input(serializers.Serializer[Any]):
    files = _Nested(many=True)


class _Crash(APIView):
    def post(self, request: SignedInRequest) -> Response:
        raise RuntimeError("a bug")


class _Conflict(APIView):
    def post(self, request: SignedInRequest) -> Response:
        raise ResourceConflict("The function is being updated.")


class _Nesting(APIView):
    def post(self, request: SignedInRequest) -> Response:
        _Input(data=request.data).is_valid(raise_exception=True)
        return Response({})


urlpatterns = [
    path("crash", _Crash.as_view()),
    path("conflict", _Conflict.as_view()),
    path("nested", _Nesting.as_view()),
    *console_urls,
]


def test_a_caller_who_has_not_signed_in_is_told_to_with_401():
    response = Client().get(EVENTS)
    error = _error(response, 401, "NotAuthenticated")
    assert error["message"] == "Sign in first."
    assert response["WWW-Authenticate"] == 'Session realm="functory"'


def test_an_unsafe_call_without_the_csrf_token_is_refused():
    client = _client(csrf=True)
    refused = _post(client, EVENTS, json.dumps({"name": "ev"}))
    assert "CSRF" in _error(refused, 403, "AccessDeniedException")["message"]
    token = get_random_string(32)  # what a console page sets in the csrftoken cookie
    client.cookies["csrftoken"] = token
    accepted = _post(client, EVENTS, json.dumps({"name": "ev"}), X_CSRFToken=token)
    assert accepted.status_code == 201, accepted.content


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"[1, 2]", "The request body must be a JSON object."),
        (b'"text"', "The request body must be a JSON object."),
        (b"\xff\xfe", "The request body is not valid JSON."),
        (b'{"payload": ' + b"[" * 5000 + b"]" * 5000 + b"}", "The request body is not valid JSON."),
        (b'{"payload": 1e999}', "The request body is not valid JSON."),
    ],
)
def test_a_body_that_is_not_one_json_object_is_a_400(body, message):
    error = _error(_post(_client(), EVENTS, body), 400, "InvalidRequestContentException")
    assert error["message"] == message


def test_a_body_over_the_limit_is_a_413_and_not_read_further():
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        body = json.dumps({"name": "big", "payload": {"x": "y" * 2000}})
        _error(_post(_client(), EVENTS, body), 413, "RequestEntityTooLargeException")


def test_a_body_that_is_not_json_is_a_415():
    client = _client()
    response = client.post(EVENTS, "name=x", content_type="application/x-www-form-urlencoded")
    _error(response, 415, "UnsupportedMediaTypeException")


def test_a_method_the_url_does_not_take_is_a_405():
    _error(_client().patch(EVENTS), 405, "MethodNotAllowed")


@pytest.mark.urls(__name__)
def test_a_serializer_error_names_the_nested_field_at_fault():
    body = json.dumps({"files": [{"path": "ok"}, {"path": "too long"}]})
    error = _error(_post(_client(), "/nested", body), 400, "InvalidParameterValueException")
    assert error["field"] == "files.1.path"
    assert "no more than 3 characters" in error["message"]


@pytest.mark.urls(__name__)
def test_a_service_error_keeps_its_status_type_and_words():
    error = _error(_post(_client(), "/conflict", b"{}"), 409, "ResourceConflictException")
    assert error["message"] == "The function is being updated."


@pytest.mark.urls(__name__)
def test_a_bug_is_a_logged_500_in_the_same_shape_with_nothing_of_the_bug_in_it(caplog):
    with caplog.at_level(logging.ERROR, logger="platformapi.errors"):
        response = _post(_client(), "/crash", b"{}")
    error = _error(response, 500, "ServiceException")
    assert error["message"] == "An internal error occurred."
    assert "a bug" not in response.content.decode()
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_a_user_over_the_rate_is_throttled_with_retry_after_and_others_are_not():
    rates = {"platform": "3/min"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        hasty = _client()
        for _ in range(3):
            assert hasty.get(EVENTS).status_code == 200
        throttled = hasty.get(EVENTS)
        _error(throttled, 429, "TooManyRequestsException")
        assert 1 <= int(throttled["Retry-After"]) <= 60
        calm = _client(account_id="555555555555", name="calm")
        calm_function = "/functions/mine/test/events"
        assert calm.get(calm_function).status_code == 200


def _rest_framework() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def test_an_unknown_url_is_json_for_api_clients_and_a_page_for_browsers():
    client = Client()
    api = client.get("/no/such/thing")
    error = _error(api, 404, "ResourceNotFoundException")
    assert error["message"] == "Nothing is at /no/such/thing."
    page = client.get("/no/such/thing", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_the_schema_documents_every_platform_operation_with_its_errors():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for wanted in (
        "/_functory/api/metrics",
        "/_functory/api/logs/live-token",
        "/_functory/async-invocations",
        "/functions/{name}/test/events",
        "/functions/{name}/test/invoke",
    ):
        assert wanted in paths
    for operations in paths.values():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "429"):
                assert status in operation["responses"], (method, status)
            if method in ("post", "put"):
                assert {"413", "415"} <= set(operation["responses"])
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


def test_the_schema_is_public_and_names_both_ways_to_authenticate():
    served = Client().get("/_functory/api/schema?format=json")
    assert served.status_code == 200
    schemes = served.json()["components"]["securitySchemes"]
    assert schemes["consoleSession"]["in"] == "cookie"
    assert schemes["sigv4"]["name"] == "Authorization"
