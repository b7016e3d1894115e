"""The function page: the owner sees its tabs; anyone else gets a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from functions.tests.factories import function_row
from iam import services

pytestmark = pytest.mark.django_db


def _client(account_id: str, username: str) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(
        username=username, account=account, password="pw-1234567890", is_admin=True
    )
    client = Client()
    assert client.login(username=username, password="pw-1234567890")
    return client


def test_the_owner_sees_the_function_page_with_its_tabs():
    client = _client("111111111111", "owner")
    function_row(services.account_get_or_create("111111111111"), "mine")
    page = client.get("/functions/mine/")
    assert page.status_code == 200
    for label in ("Code", "Test", "Monitor", "Configuration", "Versions and aliases"):
        assert f">{label}</button>" in page.content.decode()


def test_another_accounts_function_page_is_a_404():
    function_row(services.account_get_or_create("222222222222"), "theirs")
    client = _client("333333333333", "stranger")
    assert client.get("/functions/theirs/").status_code == 404
    assert Client().get("/functions/theirs/").status_code == 302  # to the sign-in page
