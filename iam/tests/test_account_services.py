"""Account services and their permission-checked fetches: a user manages their own keys, an
admin the account's users and keys, nobody another account's."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from awsapi.errors import ResourceNotFound
from iam import selectors, services
from iam.models import AccessKey, User

pytestmark = pytest.mark.django_db


def _user(account_id: str, name: str, *, admin: bool = False) -> User:
    account = services.account_get_or_create(account_id)
    return services.user_create(username=name, account=account, is_admin=admin)


def test_a_deactivated_key_no_longer_signs_and_can_be_activated_again() -> None:
    key = services.access_key_create(user=_user("111111111111", "ann"))
    services.access_key_set_status(key=key, active=False)
    assert selectors.access_key_get_active(key.access_key_id) is None
    services.access_key_set_status(key=key, active=True)
    assert selectors.access_key_get_active(key.access_key_id) == key


def test_a_deleted_key_is_gone() -> None:
    key = services.access_key_create(user=_user("111111111111", "ann"))
    services.access_key_delete(key=key)
    assert not AccessKey.objects.filter(pk=key.pk).exists()


def test_a_user_fetches_only_their_own_keys() -> None:
    ann = _user("111111111111", "ann")
    bob = _user("111111111111", "bob")
    own = services.access_key_create(user=ann)
    other = services.access_key_create(user=bob)
    assert selectors.access_key_get_for_user(ann, own.access_key_id) == own
    with pytest.raises(ResourceNotFound):
        selectors.access_key_get_for_user(ann, other.access_key_id)


def test_an_admin_fetches_the_accounts_keys_but_not_another_accounts() -> None:
    admin = _user("111111111111", "boss", admin=True)
    colleague = services.access_key_create(user=_user("111111111111", "ann"))
    foreign = services.access_key_create(user=_user("222222222222", "eve"))
    assert selectors.access_key_get_for_user(admin, colleague.access_key_id) == colleague
    with pytest.raises(ResourceNotFound):
        selectors.access_key_get_for_user(admin, foreign.access_key_id)


def test_only_an_admin_fetches_users_and_only_of_its_account() -> None:
    admin = _user("111111111111", "boss", admin=True)
    ann = _user("111111111111", "ann")
    _user("222222222222", "eve")
    assert selectors.user_get_for_admin(admin, "ann") == ann
    with pytest.raises(ResourceNotFound):
        selectors.user_get_for_admin(admin, "eve")
    with pytest.raises(ResourceNotFound):
        selectors.user_get_for_admin(ann, "boss")
    assert selectors.users_visible_to(ann) == [ann]
    assert {u.username for u in selectors.users_visible_to(admin)} == {"ann", "boss"}


def test_an_admin_deactivates_a_user_but_not_themselves() -> None:
    admin = _user("111111111111", "boss", admin=True)
    ann = _user("111111111111", "ann")
    key = services.access_key_create(user=ann)
    services.user_set_active(actor=admin, user=ann, active=False)
    assert selectors.access_key_get_active(key.access_key_id) is None
    with pytest.raises(ValidationError):
        services.user_set_active(actor=admin, user=admin, active=False)
    admin.refresh_from_db()
    assert admin.is_active
