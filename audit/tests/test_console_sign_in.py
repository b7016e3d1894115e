"""Console sign-in, sign-out and changes are recorded (eventSource ``console``)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.recorder import recorder
from iam import services

pytestmark = pytest.mark.django_db


def _records(name: str) -> list[dict[str, object]]:
    recorder.flush()
    return [json.loads(row.record) for row in AuditEvent.objects.filter(event_name=name)]


def test_a_sign_in_and_a_sign_out_are_recorded_for_the_users_account() -> None:
    account = services.account_get_or_create("111122223333")
    services.user_create(username="ana", account=account, password="s3cret-pass-1")
    client = Client()
    response = client.post("/login/", {"username": "ana", "password": "s3cret-pass-1"})
    assert response.status_code == 302
    client.post("/logout/")

    [sign_in] = _records("ConsoleLogin")
    assert sign_in["eventSource"] == "console"
    assert sign_in["eventType"] == "AwsConsoleSignIn"
    assert sign_in["responseElements"] == {"ConsoleLogin": "Success"}
    assert sign_in["recipientAccountId"] == "111122223333"
    assert sign_in["userIdentity"]["userName"] == "ana"  # type: ignore[index]
    assert sign_in["sourceIPAddress"] == "127.0.0.1"
    assert "s3cret" not in json.dumps(sign_in)
    assert len(_records("ConsoleLogout")) == 1


def test_a_failed_sign_in_is_recorded_without_the_password() -> None:
    account = services.account_get_or_create("222233334444")
    services.user_create(username="ben", account=account, password="right-pass-1")
    Client().post("/login/", {"username": "222233334444/ben", "password": "wrong-pass-9"})

    [failure] = _records("ConsoleLogin")
    assert failure["errorCode"] == "Failed authentication"
    assert failure["responseElements"] == {"ConsoleLogin": "Failure"}
    assert failure["recipientAccountId"] == "222233334444"
    assert "wrong-pass" not in json.dumps(failure)


def test_a_console_change_is_recorded_with_secrets_hidden() -> None:
    account = services.account_get_or_create("333344445555")
    admin = services.user_create(
        username="root", account=account, password="admin-pass-1", is_admin=True
    )
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/account/users",
        {"UserName": "newbie", "Password": "newbie-password-77"},
        content_type="application/json",
    )
    assert response.status_code < 300, response.content
    [change] = _records("POST account-user-create")
    assert change["eventSource"] == "console"
    assert change["requestParameters"]["UserName"] == "newbie"  # type: ignore[index]
    assert "newbie-password-77" not in json.dumps(change)
    assert change["userIdentity"]["type"] == "Root"  # type: ignore[index]
