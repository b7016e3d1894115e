"""Console sign-in with a password, and account scoping of what a user sees."""

from __future__ import annotations

import pytest
from django.test import Client

from functions.tests.factories import function_row
from iam import services

pytestmark = pytest.mark.django_db


def test_signing_in_with_a_password_shows_only_the_users_account():
    mine = services.account_get_or_create("111111111111")
    theirs = services.account_get_or_create("222222222222")
    services.user_create(username="ana", account=mine, password="s3cret-pass", is_admin=True)
    function_row(mine, "my-function")
    function_row(theirs, "their-function")

    client = Client()
    assert client.get("/").status_code == 302
    response = client.post("/login/", {"username": "ana", "password": "s3cret-pass"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "my-function" in page
    assert "their-function" not in page


def test_a_wrong_password_is_refused():
    account = services.account_get_or_create("333333333333")
    services.user_create(username="ben", account=account, password="right-pass")
    response = Client().post("/login/", {"username": "ben", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
