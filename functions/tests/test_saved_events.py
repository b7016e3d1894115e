"""Saved console test events: limits, names, sharing and who sees what."""

from __future__ import annotations

import pytest

from awsapi.errors import AWSError, ResourceNotFound
from functions import selectors
from functions.services import saved_events
from functions.tests.factories import function_row
from iam import services as accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    account = accounts.account_get_or_create("111111111111")
    alice = accounts.user_create(username="alice", account=account, password="pw-1234567890")
    bob = accounts.user_create(username="bob", account=account, password="pw-1234567890")
    return function_row(account), alice, bob


def test_it_keeps_at_most_ten_private_events_per_user_andfunction_row(setup):
    function, alice, bob = setup
    for n in range(saved_events.MAX_PRIVATE):
        saved_events.test_event_create(user=alice, function=function, name=f"e{n}", payload={})
    with pytest.raises(AWSError) as excinfo:
        saved_events.test_event_create(user=alice, function=function, name="one-more", payload={})
    assert excinfo.value.code == "TestEventLimitExceededException"
    assert "10 private" in excinfo.value.message
    # Another user has their own ten; shared events are counted apart.
    saved_events.test_event_create(user=bob, function=function, name="e0", payload={})
    saved_events.test_event_create(
        user=alice, function=function, name="team", payload={}, shared=True
    )


def test_it_limits_shareable_events_perfunction_row(setup):
    function, alice, bob = setup
    for n in range(saved_events.MAX_SHARED):
        user = alice if n % 2 else bob
        saved_events.test_event_create(
            user=user, function=function, name=f"s{n}", payload={}, shared=True
        )
    with pytest.raises(AWSError, match="shareable"):
        saved_events.test_event_create(
            user=alice, function=function, name="s-more", payload={}, shared=True
        )


@pytest.mark.parametrize("name", ["", "has space", "x" * 26, "semi;colon"])
def test_it_rejects_names_outside_the_console_pattern(setup, name):
    function, alice, _ = setup
    with pytest.raises(AWSError) as excinfo:
        saved_events.test_event_create(user=alice, function=function, name=name, payload={})
    assert excinfo.value.field == "name"


def test_it_rejects_invalid_json_and_duplicate_names(setup):
    function, alice, _ = setup
    with pytest.raises(AWSError) as excinfo:
        saved_events.test_event_create(user=alice, function=function, name="a", payload="{nope")
    assert excinfo.value.field == "payload"
    saved_events.test_event_create(user=alice, function=function, name="a", payload='{"k": 1}')
    with pytest.raises(AWSError, match="already exists"):
        saved_events.test_event_create(user=alice, function=function, name="a", payload={})


def test_shared_events_are_seen_and_edited_by_the_account_private_ones_are_not(setup):
    function, alice, bob = setup
    private = saved_events.test_event_create(user=alice, function=function, name="p", payload={})
    shared = saved_events.test_event_create(
        user=alice, function=function, name="s", payload={"a": 1}, shared=True
    )
    assert [e.name for e in selectors.test_events_list(bob, function)] == ["s"]
    assert {e.name for e in selectors.test_events_list(alice, function)} == {"p", "s"}
    with pytest.raises(ResourceNotFound):
        selectors.test_event_get_for_user(bob, function, private.pk)
    event = selectors.test_event_get_for_user(bob, function, shared.pk)
    saved_events.test_event_update(user=bob, event=event, name="s2", payload={"b": 2}, shared=True)
    with pytest.raises(AWSError) as excinfo:
        saved_events.test_event_update(user=bob, event=event, name="s2", payload={}, shared=False)
    assert excinfo.value.field == "shared"


def test_another_accounts_user_sees_no_events(setup):
    function, alice, _ = setup
    saved_events.test_event_create(user=alice, function=function, name="s", payload={}, shared=True)
    other = accounts.account_get_or_create("222222222222")
    eve = accounts.user_create(username="eve", account=other, password="pw-1234567890")
    assert selectors.test_events_list(eve, function) == []
