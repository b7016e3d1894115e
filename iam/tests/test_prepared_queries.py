"""``awsapi.prepared.PreparedQuery`` (in-process): the objects the ORM would make, read
fresh on every call, from a statement compiled once."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from awsapi.prepared import PreparedQuery
from iam import selectors
from iam import services as iam_services
from iam.models import AccessKey, User

pytestmark = pytest.mark.django_db

KEY_WITH_USER = PreparedQuery(
    lambda key_id: AccessKey.objects.select_related("user", "user__account").filter(
        access_key_id=key_id
    ),
    kinds=(str,),
)


@pytest.fixture
def key() -> AccessKey:
    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    user.tags = {"team": "a"}
    user.save()
    return iam_services.access_key_create(user=user)


def test_it_makes_what_the_orm_makes_joins_included(key: AccessKey) -> None:
    expected = AccessKey.objects.select_related("user", "user__account").get(pk=key.pk)
    with CaptureQueriesContext(connection) as queries:
        found = KEY_WITH_USER.first(key.access_key_id)
        assert found is not None
        # Dates and JSON converted as the ORM converts them; the joined rows need no query.
        assert (found.created, found.user.tags, found.user.account.id) == (
            expected.created,
            {"team": "a"},
            "111111111111",
        )
    assert len(queries.captured_queries) == 1
    assert found == expected and found.user == expected.user
    assert found._state.adding is False and found._state.db == "default"


def test_every_call_reads_the_rows_anew(key: AccessKey) -> None:
    assert selectors.access_key_get_active(key.access_key_id) is not None
    # Changed behind the process's back (no signal), as another process would.
    AccessKey.objects.filter(pk=key.pk).update(status=AccessKey.Status.INACTIVE)
    assert selectors.access_key_get_active(key.access_key_id) is None
    AccessKey.objects.filter(pk=key.pk).update(status=AccessKey.Status.ACTIVE)
    User.objects.filter(pk=key.user.pk).update(is_active=False)
    assert selectors.access_key_get_active(key.access_key_id) is None
    assert KEY_WITH_USER.first("AKIA-NONE") is None


def test_a_value_the_query_would_transform_is_refused() -> None:
    startswith = PreparedQuery(
        lambda name: User.objects.filter(username__startswith=name), kinds=(str,)
    )
    with pytest.raises(ValueError, match=r"used once, as given|pattern lookups"):
        startswith.rows("u")


def test_a_value_never_matches_as_a_pattern(key: AccessKey) -> None:
    # On SQLite iexact compiles to LIKE with the value as given, where a % would match
    # anyone (the ORM escapes it per call): refused. PostgreSQL compares UPPER()s: no pattern.
    iexact = PreparedQuery(lambda name: User.objects.filter(username__iexact=name), kinds=(str,))
    try:
        found = iexact.rows("%")
    except ValueError as error:
        assert "pattern lookups" in str(error)
    else:
        assert found == []


def test_a_value_of_another_type_than_prepared_is_refused() -> None:
    by_name = PreparedQuery(lambda name: User.objects.filter(username=name), kinds=(str,))
    with pytest.raises(TypeError):
        by_name.rows(12)


# Without the test's own transaction around it: autocommit, as a view outside atomic() runs.
@pytest.mark.django_db(transaction=True)
def test_a_locking_read_outside_a_transaction_is_refused(key: AccessKey) -> None:
    locked = PreparedQuery(
        lambda key_id: AccessKey.objects.select_for_update().filter(access_key_id=key_id),
        kinds=(str,),
    )
    with transaction.atomic():
        assert locked.first(key.access_key_id) == key
    with pytest.raises(TransactionManagementError):
        locked.first(key.access_key_id)
