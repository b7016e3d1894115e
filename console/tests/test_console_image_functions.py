"""The console shows a container-image function's image instead of a code editor."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from functions.models import Function, FunctionVersion
from iam import services

pytestmark = pytest.mark.django_db

RESOLVED = "functory-test/app@sha256:" + "a" * 64


def _client(account_id: str) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(username="owner", account=account, password="pw-1234567890", is_admin=True)
    client = Client()
    assert client.login(username="owner", password="pw-1234567890")
    return client


def _image_function(account_id: str) -> Function:
    function = Function.objects.create(
        account=services.account_get_or_create(account_id), name="img"
    )
    FunctionVersion.objects.create(
        function=function,
        number=0,
        runtime="",
        handler="",
        role="arn:aws:iam::123456789012:role/r",
        code=None,
        code_sha256="a" * 64,
        code_size=0,
        package_type="Image",
        image_uri="functory-test/app:1",
        resolved_image_uri=RESOLVED,
        image_id="sha256:" + "a" * 64,
        image_config={"Command": ["app.other"]},
        config_digest="d",
        last_modified=timezone.now(),
    )
    return function


def test_the_code_tab_of_an_image_function_shows_its_image_and_no_editor():
    client = _client("444444444444")
    _image_function("444444444444")
    page = client.get("/functions/img/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "functory-test/app:1" in html and RESOLVED in html and "app.other" in html
    assert 'id="code-editor"' not in html
    assert client.get("/").status_code == 200  # the function list


def test_the_code_endpoints_answer_an_image_function_without_a_server_error():
    client = _client("555555555555")
    _image_function("555555555555")
    package = client.get("/_console/functions/img/code")
    assert package.status_code == 200
    assert "container image" in package.json()["reason"]
    deploy = client.post(
        "/_console/functions/img/code",
        json.dumps({"files": [{"path": "app.py", "content": "x"}]}),
        content_type="application/json",
    )
    assert deploy.status_code == 400 and "container image" in deploy.content.decode()
    runtime = client.post(
        "/_console/functions/img/runtime",
        json.dumps({"runtime": "python3.11", "handler": "app.handler"}),
        content_type="application/json",
    )
    assert runtime.status_code == 400
    assert FunctionVersion.objects.get(function__name="img").runtime == ""
