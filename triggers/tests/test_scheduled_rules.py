"""The scheduler with an injected clock: scheduled rules fire each occurrence once, as
AWS's rules say, into asynchronous invocations of their targets; after downtime only the
latest missed occurrence fires; disabled rules and targets without permission don't run."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from iam.models import Account
from invocations.models import AsyncInvocation
from triggers.models import Rule, ScheduledFiring
from triggers.rules import scheduler, selectors, services
from triggers.tests.helpers import T0, add_target, allow_events, make_function, put_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> Account:
    return Account.objects.create(id="123456789012")


def fired(rule: Rule) -> list[datetime]:
    return list(
        ScheduledFiring.objects.filter(rule=rule)
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    )


def tick_until(end: datetime, start: datetime, step: timedelta) -> None:
    now = start
    while now <= end:
        scheduler.schedules_fire(now=now)
        now += step


@pytest.fixture
def wired(account: Account) -> Account:
    make_function(account)
    allow_events(account)
    return account


def test_rate_rule_fires_every_occurrence_once_into_async_invocations(wired: Account) -> None:
    rule = put_rule(wired, "every5", "rate(5 minutes)")
    add_target(wired, "every5")
    # Ticks every 47 s (as beat's would, a few per minute) over six simulated hours; the
    # last tick is at 05:59:53, before the 06:00 occurrence.
    end = T0 + timedelta(hours=6)
    tick_until(end, T0, timedelta(seconds=47))
    first = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    expected = [first + timedelta(minutes=5 * k) for k in range(6 * 12 - 1)]
    assert fired(rule) == expected
    events = [
        json.loads(bytes(row.payload))
        for row in AsyncInvocation.objects.filter(function_name="fn").order_by("pk")
    ]
    assert [event["time"] for event in events] == [
        moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in expected
    ]


def test_cron_rules_fire_when_aws_says_over_a_simulated_year(wired: Account) -> None:
    rules = {
        "weekdays": put_rule(wired, "weekdays", "cron(0 12 ? * MON-FRI *)"),
        "monthend": put_rule(wired, "monthend", "cron(0 18 L * ? *)"),
        "thirdfri": put_rule(wired, "thirdfri", "cron(0 10 ? * 6#3 *)"),
    }
    end = datetime(2028, 1, 1, tzinfo=UTC)
    # A tick every 1 h 53 min: never two occurrences of one rule between ticks.
    tick_until(end, T0, timedelta(minutes=113))
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
    assert fired(rules["weekdays"]) == [
        datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in days if d.weekday() < 5
    ]
    assert fired(rules["monthend"]) == [
        datetime(2027, m, calendar.monthrange(2027, m)[1], 18, tzinfo=UTC) for m in range(1, 13)
    ]
    third_fridays = []
    for month in range(1, 13):
        fridays = [d for d in days if d.month == month and d.weekday() == 4]
        third_fridays.append(datetime(2027, month, fridays[2].day, 10, tzinfo=UTC))
    assert fired(rules["thirdfri"]) == third_fridays


def test_the_scheduled_event_is_shaped_as_aws_sends_it(wired: Account) -> None:
    rule = put_rule(wired, "shape", "rate(1 minute)")
    add_target(wired, "shape")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1, seconds=3))
    (row,) = AsyncInvocation.objects.filter(function_name="fn")
    event = json.loads(bytes(row.payload))
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == wired.id
    assert event["time"] == "2027-01-01T00:01:00Z"
    assert event["region"] == "us-east-1"
    assert event["resources"] == [f"arn:aws:events:us-east-1:{wired.id}:rule/shape"]
    assert event["detail"] == {}
    assert str(ScheduledFiring.objects.get(rule=rule).event_id) == event["id"]


def test_after_downtime_only_the_latest_missed_occurrence_fires(wired: Account) -> None:
    rule = put_rule(wired, "r", "rate(5 minutes)")
    add_target(wired, "r")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=5, seconds=10))
    # Down for two hours: 23 occurrences missed; one fires on return, then the schedule.
    back = T0 + timedelta(hours=2, minutes=7)
    scheduler.schedules_fire(now=back)
    scheduler.schedules_fire(now=back + timedelta(seconds=30))
    scheduler.schedules_fire(now=back + timedelta(minutes=3))
    assert fired(rule) == [
        datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
        datetime(2027, 1, 1, 2, 5, tzinfo=UTC),
        datetime(2027, 1, 1, 2, 10, tzinfo=UTC),
    ]
    assert AsyncInvocation.objects.count() == 3


def test_a_disabled_rule_does_not_fire_and_owes_nothing_once_enabled_again(
    wired: Account,
) -> None:
    rule = put_rule(wired, "r", "rate(1 hour)")
    add_target(wired, "r")
    services.rule_set_state(wired, "r", None, Rule.DISABLED, now=T0 + timedelta(minutes=1))
    scheduler.schedules_fire(now=T0 + timedelta(hours=5))
    assert fired(rule) == []
    services.rule_set_state(wired, "r", None, Rule.ENABLED, now=T0 + timedelta(hours=5, seconds=5))
    rule.refresh_from_db()
    # The rate keeps counting from the rule's creation; the five missed hours are not owed.
    assert rule.next_fire_at == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)
    scheduler.schedules_fire(now=T0 + timedelta(hours=5, minutes=30))
    assert fired(rule) == []
    scheduler.schedules_fire(now=datetime(2027, 1, 1, 6, 0, 4, tzinfo=UTC))
    assert fired(rule) == [datetime(2027, 1, 1, 6, 0, tzinfo=UTC)]


def test_a_target_without_events_permission_is_not_invoked(account: Account) -> None:
    make_function(account)
    rule = put_rule(account, "r", "rate(1 minute)")
    add_target(account, "r")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    firing = ScheduledFiring.objects.get(rule=rule)
    assert (firing.delivered, firing.failed) == (0, 1)
    assert not AsyncInvocation.objects.exists()


def test_permission_limited_to_another_rule_does_not_let_this_one_invoke(
    account: Account,
) -> None:
    make_function(account)
    allow_events(account, source_arn=f"arn:aws:events:us-east-1:{account.id}:rule/other")
    put_rule(account, "r", "rate(1 minute)")
    add_target(account, "r")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    assert not AsyncInvocation.objects.exists()


def test_permission_with_this_rules_arn_or_a_wildcard_lets_it_invoke(account: Account) -> None:
    make_function(account)
    allow_events(account, source_arn=f"arn:aws:events:us-east-1:{account.id}:rule/r*")
    rule = put_rule(account, "r1", "rate(1 minute)")
    add_target(account, "r1")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    assert AsyncInvocation.objects.count() == 1
    assert selectors.rule_arn(rule).endswith(":rule/r1")


def test_constant_input_replaces_the_scheduled_event(wired: Account) -> None:
    put_rule(wired, "r", "rate(1 minute)")
    add_target(wired, "r", Input='{"job": "nightly"}')
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    (row,) = AsyncInvocation.objects.all()
    assert json.loads(bytes(row.payload)) == {"job": "nightly"}


def test_one_tick_twice_at_the_same_moment_fires_once(wired: Account) -> None:
    rule = put_rule(wired, "r", "rate(1 minute)")
    add_target(wired, "r")
    moment = T0 + timedelta(minutes=1)
    assert scheduler.schedules_fire(now=moment) == 1
    assert scheduler.schedules_fire(now=moment) == 0
    assert len(fired(rule)) == 1


def test_changing_the_schedule_restarts_a_rate_from_the_change(wired: Account) -> None:
    rule = put_rule(wired, "r", "rate(1 hour)")
    changed = T0 + timedelta(minutes=10)
    rule = put_rule(wired, "r", "rate(2 hours)", now=changed)
    assert rule.next_fire_at == datetime(2027, 1, 1, 2, 10, tzinfo=UTC)
    # The same expression again (a PutRule that only changes the description) keeps it.
    rule = put_rule(wired, "r", "rate(2 hours)", now=changed + timedelta(minutes=30))
    assert rule.next_fire_at == datetime(2027, 1, 1, 2, 10, tzinfo=UTC)


def test_firings_are_kept_a_week(wired: Account) -> None:
    rule = put_rule(wired, "r", "rate(1 day)")
    scheduler.schedules_fire(now=T0 + timedelta(days=1))
    scheduler.schedules_fire(now=T0 + timedelta(days=9))
    assert len(fired(rule)) == 2
    assert scheduler.firings_expire(now=T0 + timedelta(days=9)) == 1
    assert fired(rule) == [datetime(2027, 1, 10, tzinfo=UTC)]
