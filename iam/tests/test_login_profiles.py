"""A login profile made through the IAM API is the user's console password."""

from __future__ import annotations

import pytest
from django.test import Client

from iam import entities, services

pytestmark = pytest.mark.django_db


def test_a_login_profile_signs_the_user_in_to_the_console_until_deleted() -> None:
    account = services.account_get_or_create("444455556666")
    user = entities.user_create(account, "profiled")
    client = Client()
    assert not client.login(username="profiled", password="a long and unusual phrase")
    entities.login_profile_set(user, "a long and unusual phrase", create=True)
    response = client.post(
        "/login/", {"username": "profiled", "password": "a long and unusual phrase"}
    )
    assert response.status_code == 302
    entities.login_profile_delete(user)
    response = Client().post(
        "/login/", {"username": "profiled", "password": "a long and unusual phrase"}
    )
    assert response.status_code == 200  # the form again: refused
