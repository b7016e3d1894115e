"""Function URLs: the address built for a config, and the control-plane API."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from functions.function_urls import function_url
from functions.models import FunctionUrlConfig

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
