"""Function URLs in process: the address built for a config, the CORS rules the model
cannot say, and the rendered shape (the API itself: test_function_url_api.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory

from awsapi.errors import InvalidParameterValue
from functions import render
from functions.function_urls import function_url
from functions.models import Function, FunctionUrlConfig
from functions.services.function_urls import check_cors, new_url_id

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"


def test_without_a_url_domain_the_url_is_a_path_on_the_api_host(settings):
    settings.FUNCTORY_URL_DOMAIN = ""
    request = RequestFactory().get("/2021-10-31/functions/f/url", HTTP_HOST="api.local:8080")
    config = FunctionUrlConfig(url_id=URL_ID)
    assert function_url(config, request) == f"http://api.local:8080/lambda-url/{URL_ID}/"


def test_the_path_form_keeps_the_scheme_of_the_api_request(settings):
    settings.FUNCTORY_URL_DOMAIN = ""
    request = RequestFactory().get("/", HTTP_HOST="api.example", secure=True)
    config = FunctionUrlConfig(url_id=URL_ID)
    assert function_url(config, request) == f"https://api.example/lambda-url/{URL_ID}/"


@pytest.mark.parametrize(
    ("scheme", "expected"), [("https", "https"), ("http", "http"), ("", "https")]
)
def test_with_a_url_domain_the_url_has_aws_host_shape(settings, scheme, expected):
    settings.FUNCTORY_URL_DOMAIN = "fn.example.com"
    settings.FUNCTORY_URL_SCHEME = scheme
    settings.FUNCTORY_REGION = "eu-west-1"
    request = RequestFactory().get("/", HTTP_HOST="api.local")
    config = FunctionUrlConfig(url_id=URL_ID)
    assert (
        function_url(config, request)
        == f"{expected}://{URL_ID}.lambda-url.eu-west-1.fn.example.com/"
    )


# ---- in-process: the rules the model cannot say -----------------------------------------


def test_url_ids_have_aws_shape_and_do_not_repeat():
    ids = {new_url_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and i.isalnum() and i == i.lower() for i in ids)


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://example.com",
        "http://localhost:8080",
        "https://a-b.c-d.example.co.uk",
        "http://[::1]:3000",
        "http://127.0.0.1",
    ],
)
def test_browser_origins_are_accepted(origin):
    assert check_cors({"AllowOrigins": [origin]}) == {"AllowOrigins": [origin]}


@pytest.mark.parametrize(
    "origin",
    [
        "example.com",
        "https://",
        "https://example.com/",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://user@example.com",
        "ftp://example.com",
        "https://-bad.example",
        "https://exa mple.com",
        "https://example.com:port",
        "https://*.example.com",
        "null",
        "https://ex\u00e4mple.com",
    ],
)
def test_anything_but_an_origin_is_refused(origin):
    with pytest.raises(InvalidParameterValue) as error:
        check_cors({"AllowOrigins": ["https://fine.example", origin]})
    assert error.value.message.startswith(f"The origin {origin} is invalid.")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "CONNECT", "get", "", "G ET"])
def test_only_aws_cors_methods_are_accepted(method):
    with pytest.raises(InvalidParameterValue) as error:
        check_cors({"AllowMethods": ["GET", method]})
    assert (
        error.value.message == f"The method {method} is not supported in AllowMethods. "
        "Supported values: GET, PUT, HEAD, POST, PATCH, DELETE, *."
    )


@pytest.mark.parametrize("header", ["", "a b", "x:y", "x\u00e9", "(x)", "a/b", '"q"'])
def test_header_names_must_be_http_tokens(header):
    for member in ("AllowHeaders", "ExposeHeaders"):
        with pytest.raises(InvalidParameterValue) as error:
            check_cors({member: ["ok", header]})
        assert f"in {member} is invalid" in error.value.message


def test_cors_keeps_what_was_given_and_drops_nulls():
    given = {"AllowHeaders": ["X-Amz-Date", "*"], "AllowCredentials": False, "MaxAge": None}
    assert check_cors(given) == {"AllowHeaders": ["X-Amz-Date", "*"], "AllowCredentials": False}
    assert check_cors(None) == {}
    assert check_cors({}) == {}


def test_a_url_config_renders_as_aws_shape():
    function = Function(account_id="123456789012", name="fn")
    created = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    config = FunctionUrlConfig(
        function=function,
        qualifier="live",
        url_id=URL_ID,
        auth_type="AWS_IAM",
        cors={},
        invoke_mode="RESPONSE_STREAM",
        created=created,
        last_modified=created + dt.timedelta(seconds=1),
    )
    assert render.function_url_config(config, "https://u/") == {
        "FunctionUrl": "https://u/",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
        "AuthType": "AWS_IAM",
        "CreationTime": "2024-05-06T07:08:09.123456Z",
        "LastModifiedTime": "2024-05-06T07:08:10.123456Z",
        "InvokeMode": "RESPONSE_STREAM",
    }
    config.qualifier = "$LATEST"
    config.cors = {"MaxAge": 0}
    shown = render.function_url_config(config, "https://u/", last_modified=False, invoke_mode=False)
    assert shown == {
        "FunctionUrl": "https://u/",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "AuthType": "AWS_IAM",
        "Cors": {"MaxAge": 0},
        "CreationTime": "2024-05-06T07:08:09.123456Z",
    }
