"""rate() and cron() as EventBridge defines them: which expressions AWS accepts, and when
each fires, checked over a simulated year against dates computed independently."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from triggers import schedules

YEAR = 2027


def firings(expression: str, start: datetime, end: datetime, anchor: datetime | None = None):
    schedule = schedules.parse(expression, anchor=anchor or start)
    found: list[datetime] = []
    moment = start
    while True:
        nxt = schedule.next_after(moment)
        if nxt is None or nxt >= end:
            return found
        assert nxt > moment
        found.append(nxt)
        moment = nxt


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def days_of(year: int) -> Iterator[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


START = datetime(YEAR, 1, 1, tzinfo=UTC) - timedelta(minutes=1)
END = datetime(YEAR + 1, 1, 1, tzinfo=UTC)


def test_rate_5_minutes_fires_every_five_minutes_from_rule_creation_for_a_year() -> None:
    created = datetime(YEAR, 1, 1, 0, 3, 27, tzinfo=UTC)
    got = firings("rate(5 minutes)", created, END, anchor=created)
    first = datetime(YEAR, 1, 1, 0, 8, tzinfo=UTC)
    expected = []
    moment = first
    while moment < END:
        expected.append(moment)
        moment += timedelta(minutes=5)
    assert got == expected
    assert len(got) == 365 * 24 * 12 - 1  # every slot of the year after the first 3 minutes


def test_weekday_noon_cron_fires_at_12_utc_monday_to_friday_only() -> None:
    got = firings("cron(0 12 ? * MON-FRI *)", START, END)
    expected = [at(day, 12) for day in days_of(YEAR) if day.weekday() < 5]
    assert got == expected
    assert len(got) == 261


def test_last_day_of_month_cron_fires_at_18_on_each_months_last_day() -> None:
    got = firings("cron(0 18 L * ? *)", START, END)
    expected = [
        at(date(YEAR, month, calendar.monthrange(YEAR, month)[1]), 18) for month in range(1, 13)
    ]
    assert got == expected
    assert got[1] == datetime(YEAR, 2, 28, 18, tzinfo=UTC)


def test_leap_february_ends_on_the_29th() -> None:
    got = firings(
        "cron(0 18 L * ? *)", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)
    )
    assert got == [datetime(2028, 2, 29, 18, tzinfo=UTC)]


def test_third_friday_cron_fires_at_10_on_the_third_friday_of_every_month() -> None:
    got = firings("cron(0 10 ? * 6#3 *)", START, END)
    expected = []
    for month in range(1, 13):
        fridays = [
            day
            for day in (
                date(YEAR, month, n) for n in range(1, calendar.monthrange(YEAR, month)[1] + 1)
            )
            if day.weekday() == 4
        ]
        expected.append(at(fridays[2], 10))
    assert got == expected
    assert got[0] == datetime(YEAR, 1, 15, 10, tzinfo=UTC)


def test_day_of_week_numbers_start_at_sunday_and_names_are_case_insensitive() -> None:
    by_number = firings("cron(30 9 ? * 2-6 *)", START, END)
    by_name = firings("cron(30 9 ? * mon-fri *)", START, END)
    assert by_number == by_name
    assert {moment.weekday() for moment in by_number} == {0, 1, 2, 3, 4}


def test_a_range_may_wrap_around_the_end_of_its_field() -> None:
    got = firings("cron(0 0 ? * FRI-MON *)", START, datetime(YEAR, 1, 15, tzinfo=UTC))
    assert {moment.weekday() for moment in got} == {4, 5, 6, 0}


def test_slash_gives_increments_from_a_start() -> None:
    got = firings("cron(1/10 * * * ? *)", START, datetime(YEAR, 1, 1, 1, tzinfo=UTC))
    assert [moment.minute for moment in got] == [1, 11, 21, 31, 41, 51]


def test_lists_and_month_names() -> None:
    got = firings("cron(15 6,18 1 JAN,JUL ? *)", START, END)
    assert got == [
        datetime(YEAR, 1, 1, 6, 15, tzinfo=UTC),
        datetime(YEAR, 1, 1, 18, 15, tzinfo=UTC),
        datetime(YEAR, 7, 1, 6, 15, tzinfo=UTC),
        datetime(YEAR, 7, 1, 18, 15, tzinfo=UTC),
    ]


def test_w_is_the_nearest_weekday_within_the_month() -> None:
    # 2027-05-01 is a Saturday: 1W is Monday the 3rd (Friday the 30th is another month).
    assert firings(
        "cron(0 8 1W * ? 2027)", datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    ) == [datetime(2027, 5, 3, 8, tzinfo=UTC)]
    # 2027-05-15 is a Saturday: 15W is Friday the 14th; 2027-05-16 (Sunday): Monday the 17th.
    assert firings(
        "cron(0 8 15W * ? 2027)", datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    ) == [datetime(2027, 5, 14, 8, tzinfo=UTC)]
    assert firings(
        "cron(0 8 16W * ? 2027)", datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    ) == [datetime(2027, 5, 17, 8, tzinfo=UTC)]


def test_lw_is_the_last_weekday_and_nl_the_last_such_day_of_the_month() -> None:
    # 2027-07-31 is a Saturday.
    window = (datetime(2027, 7, 1, tzinfo=UTC), datetime(2027, 8, 1, tzinfo=UTC))
    assert firings("cron(0 8 LW * ? *)", *window) == [datetime(2027, 7, 30, 8, tzinfo=UTC)]
    assert firings("cron(0 8 ? * 2L *)", *window) == [datetime(2027, 7, 26, 8, tzinfo=UTC)]
    assert firings(
        "cron(0 8 ? * L *)", datetime(2027, 7, 1, tzinfo=UTC), datetime(2027, 7, 8, tzinfo=UTC)
    ) == [datetime(2027, 7, 3, 8, tzinfo=UTC)]


def test_the_year_field_bounds_the_schedule() -> None:
    schedule = schedules.parse("cron(0 0 1 1 ? 2027-2028)")
    assert schedule.next_after(datetime(2028, 6, 1, tzinfo=UTC)) is None
    assert schedule.next_after(datetime(2026, 6, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(0 12 ? * MON-FRI *)",
        "cron(0/15 * * * ? *)",
        "cron(0 18 L * ? *)",
        "cron(0 10 ? * 6#3 *)",
        "cron(0 8 LW * ? *)",
        "cron(0 8 1W * ? *)",
        "cron(* * * * ? *)",
        "cron(0 0 29 FEB ? *)",
        "cron(5,35 14 * JAN-MAR,DEC ? 2027-2199)",
    ],
)
def test_aws_accepts(expression: str) -> None:
    schedules.parse(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",  # the unit is singular for 1
        "rate(5 minute)",  # and plural otherwise
        "rate(0 minutes)",
        "rate(-5 minutes)",
        "rate(5 weeks)",
        "rate(5minutes)",
        "rate(5 Minutes)",
        "rate()",
        "cron(0 12 * * * *)",  # '*' in both day fields: one must be '?'
        "cron(0 12 ? * ? *)",  # '?' in both
        "cron(0 12 1 * 2 *)",
        "cron(0 12 * * ?)",  # five fields
        "cron(0 12 * * ? * *)",  # seven
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 * 13 ? *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 ? * 0 *)",
        "cron(0 0 1 * ? 1969)",
        "cron(0 0 1 * ? 2200)",
        "cron(0 0 30 FEB ? *)",  # never fires
        "cron(0 0 ? * 6#6 *)",
        "cron(0 0 L * ? * )x",
        "cron(0/0 * * * ? *)",
        "cron(L * * * ? *)",
        "cron(0 0 ? * MON-FUN *)",
        "cron(0 0 15W-20 * ? *)",
        "every 5 minutes",
        "",
    ],
)
def test_aws_refuses_with_its_message(expression: str) -> None:
    with pytest.raises(schedules.ScheduleError) as caught:
        schedules.parse(expression)
    assert str(caught.value) == "Parameter ScheduleExpression is not valid."


def test_after_downtime_only_the_latest_missed_occurrence_is_owed() -> None:
    schedule = schedules.parse("cron(0 12 ? * MON-FRI *)")
    # Away from Monday 09:00 to Thursday 15:00: Mon, Tue, Wed and Thu noon were missed.
    away = datetime(2027, 3, 1, 9, tzinfo=UTC)
    back = datetime(2027, 3, 4, 15, tzinfo=UTC)
    assert schedules.latest_due(schedule, away, back) == datetime(2027, 3, 4, 12, tzinfo=UTC)
    assert schedules.latest_due(schedule, back, back + timedelta(hours=1)) is None


def test_after_long_downtime_a_rate_owes_its_current_period_only() -> None:
    created = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    schedule = schedules.parse("rate(5 minutes)", anchor=created)
    back = datetime(2027, 6, 1, 10, 7, 10, tzinfo=UTC)
    assert schedules.latest_due(schedule, created, back) == datetime(2027, 6, 1, 10, 5, tzinfo=UTC)


def test_an_every_minute_schedule_after_a_year_away_is_answered_without_walking_it() -> None:
    schedule = schedules.parse("cron(* * * * ? *)")
    away = datetime(2026, 1, 1, tzinfo=UTC)
    back = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert schedules.latest_due(schedule, away, back) == datetime(2027, 1, 1, tzinfo=UTC)
