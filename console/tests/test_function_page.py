"""The function page: the owner sees its tabs; anyone else gets a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from console import services
from functions.models import CodeBlob, Function, FunctionVersion

pytestmark = pytest.mark.django_db


def _function(account, name):
    blob, _ = CodeBlob.objects.get_or_create(sha256_hex="2" * 64, size=1, unzipped_size=1)
    function = Function.objects.create(account=account, name=name)
    FunctionVersion.objects.create(
        function=function,
        number=0,
        runtime="python3.11",
        handler="app.handler",
        role="arn:aws:iam::123456789012:role/r",
        code=blob,
        code_sha256="x",
        code_size=1,
        config_digest="d",
        last_modified=timezone.now(),
    )
    return function


def _client(account_id: str, username: str) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(username=username, account=account, password="pw-123456")
    client = Client()
    assert client.login(username=username, password="pw-123456")
    return client


def test_the_owner_sees_the_function_page_with_its_tabs():
    client = _client("111111111111", "owner")
    _function(services.account_get_or_create("111111111111"), "mine")
    page = client.get("/functions/mine/")
    assert page.status_code == 200
    for label in ("Code", "Test", "Monitor", "Configuration", "Versions and aliases"):
        assert f">{label}</button>" in page.content.decode()


def test_another_accounts_function_page_is_a_404():
    _function(services.account_get_or_create("222222222222"), "theirs")
    client = _client("333333333333", "stranger")
    assert client.get("/functions/theirs/").status_code == 404
    assert Client().get("/functions/theirs/").status_code == 302  # to the sign-in page
