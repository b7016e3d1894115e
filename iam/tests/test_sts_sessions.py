"""Temporary credentials in process: how many a user may hold, and how SigV4's lookup treats
their session token and expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone

from awsapi.errors import AWSError
from iam import authentication, keycache, services, sts
from iam.models import AccessKey, Role, TemporaryCredential

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller() -> sts.Caller:
    account = services.account_get_or_create("111122223333")
    user = services.user_create(username="sessions", account=account)
    return sts.Caller(user, is_admin=False, session=None)


def test_a_user_holds_a_bounded_number_of_live_sessions(
    caller: sts.Caller, monkeypatch: Any
) -> None:
    monkeypatch.setattr(sts, "MAX_LIVE_SESSIONS", 3)
    issued = [sts.session_token_get(caller, 900) for _ in range(3)]
    with pytest.raises(AWSError) as exc:
        sts.session_token_get(caller, 900)
    assert (exc.value.code, exc.value.message) == ("Throttling", "Rate exceeded")
    # Expired sessions do not count, and are removed.
    TemporaryCredential.objects.filter(pk=issued[0].credential.pk).update(
        expiration=timezone.now() - dt.timedelta(seconds=1)
    )
    sts.session_token_get(caller, 900)
    assert not TemporaryCredential.objects.filter(pk=issued[0].credential.pk).exists()


def test_the_session_token_is_stored_only_as_its_digest(caller: sts.Caller) -> None:
    issued = sts.session_token_get(caller, 900)
    row = TemporaryCredential.objects.get(pk=issued.credential.pk)
    assert issued.session_token not in row.session_token_sha256
    assert row.token_matches(issued.session_token)
    assert not row.token_matches(issued.session_token + "x")


def test_the_lookup_wants_the_sessions_own_token_until_it_expires(caller: sts.Caller) -> None:
    issued = sts.session_token_get(caller, 900)
    key_id = issued.credential.access_key_id

    def lookup(token: str | None) -> Any:
        headers = {} if token is None else {"X-Amz-Security-Token": token}
        return authentication._lookup(RequestFactory().post("/", headers=headers))(key_id)

    assert lookup(issued.session_token).pk == key_id
    assert lookup(None) is None
    assert lookup("forged") is None
    TemporaryCredential.objects.filter(pk=key_id).update(expiration=timezone.now())
    with pytest.raises(authentication.ExpiredToken):
        lookup(issued.session_token)


def test_a_session_cannot_be_longer_than_a_root_session_for_the_admin(
    caller: sts.Caller,
) -> None:
    admin = sts.Caller(caller.user, is_admin=True, session=None)
    issued = sts.session_token_get(admin, 129_600)
    lifetime = issued.credential.expiration - timezone.now()
    assert lifetime <= dt.timedelta(seconds=sts.ROOT_SESSION_MAX_SECONDS)


def test_removing_expired_sessions_leaves_the_key_cache_but_removing_a_role_clears_it(
    caller: sts.Caller,
) -> None:
    key = AccessKey(access_key_id="AKIAKEPTINCACHE00001")
    keycache.access_keys.put(key.access_key_id, key)
    expired = sts.session_token_get(caller, 900).credential
    TemporaryCredential.objects.filter(pk=expired.pk).update(expiration=timezone.now())
    sts.session_token_get(caller, 900)  # removes the expired row
    assert not TemporaryCredential.objects.filter(pk=expired.pk).exists()
    assert keycache.access_keys.get(key.access_key_id) is key

    role = Role.objects.create(
        account_id=caller.account_id, name="gone", role_id="AROAGONEGONEGONE0001"
    )
    role.delete()
    assert keycache.access_keys.get(key.access_key_id) is keycache.MISSING
