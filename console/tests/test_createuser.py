"""``createuser``: the one-line JSON contract tooling depends on, and its options."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from iam.models import AccessKey, Account, User

pytestmark = pytest.mark.django_db


def createuser(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("createuser", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    result: dict[str, Any] = json.loads(lines[0])
    return result


def test_it_prints_exactly_the_json_contract_with_an_access_key():
    result = createuser("alice", "--access-key")
    assert list(result) == ["AccountId", "UserName", "AccessKeyId", "SecretAccessKey"]
    assert re.fullmatch(r"\d{12}", result["AccountId"])
    assert result["UserName"] == "alice"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", result["AccessKeyId"])
    assert len(result["SecretAccessKey"]) == 40
    key = AccessKey.objects.get(access_key_id=result["AccessKeyId"])
    assert key.secret_access_key == result["SecretAccessKey"]
    assert key.status == AccessKey.Status.ACTIVE
    assert key.user.username == "alice"
    assert key.user.account_id == result["AccountId"]


def test_without_access_key_it_prints_only_account_and_user():
    result = createuser("bob")
    assert list(result) == ["AccountId", "UserName"]
    assert not AccessKey.objects.filter(user__username="bob").exists()


def test_it_puts_the_user_in_the_given_account_creating_it_once():
    first = createuser("carol", "--account", "123456789012", "--access-key")
    second = createuser("dave", "--account", "123456789012")
    assert first["AccountId"] == second["AccountId"] == "123456789012"
    assert Account.objects.filter(id="123456789012").count() == 1
    assert set(
        User.objects.filter(account_id="123456789012").values_list("username", flat=True)
    ) == {
        "carol",
        "dave",
    }


@pytest.mark.parametrize(
    "bad",
    ["12345", "abcdefghijkl", "1234567890123", "12345678901 ", "123456789012\n", "١٢٣٤٥٦٧٨٩٠١٢"],
)
def test_it_refuses_a_malformed_account_id_and_creates_nothing(bad):
    with pytest.raises(CommandError) as error:
        createuser("erin", "--account", bad, "--access-key")
    assert "12 digits" in str(error.value)
    assert not User.objects.filter(username="erin").exists()
    assert not Account.objects.filter(id=bad).exists()
    assert not AccessKey.objects.exists()


def test_it_refuses_a_duplicate_user_name_in_the_same_account():
    createuser("frank", "--account", "123456789012")
    with pytest.raises(CommandError) as error:
        createuser("frank", "--access-key", "--account", "123456789012")
    assert "already exists" in str(error.value)
    assert User.objects.filter(username="frank").count() == 1
    assert not AccessKey.objects.exists()


def test_the_same_user_name_is_free_in_another_account():
    createuser("frank", "--account", "123456789012")
    createuser("frank", "--account", "210987654321")
    assert User.objects.filter(username="frank").count() == 2


def test_admin_flag_makes_a_staff_superuser():
    createuser("grace", "--admin")
    createuser("heidi")
    grace = User.objects.get(username="grace")
    heidi = User.objects.get(username="heidi")
    assert grace.is_staff and grace.is_superuser
    assert not heidi.is_staff and not heidi.is_superuser


def test_password_option_sets_a_usable_password_and_none_leaves_it_unusable():
    createuser("ivan", "--password", "s3cret-Passw0rd")
    createuser("judy")
    ivan = User.objects.get(username="ivan")
    assert ivan.check_password("s3cret-Passw0rd")
    assert not ivan.check_password("wrong")
    assert not User.objects.get(username="judy").has_usable_password()
