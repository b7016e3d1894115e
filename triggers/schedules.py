"""Schedule expressions as EventBridge defines them: ``rate(value unit)`` and six-field
``cron(minutes hours day-of-month month day-of-week year)``, in UTC, to the minute.

Pure: no Django, no clock of its own. :func:`parse` checks an expression (raising
:class:`ScheduleError` for anything AWS refuses, whose message AWS gives as
``Parameter ScheduleExpression is not valid.``) and returns a :class:`Schedule` whose
:meth:`Schedule.next_after` answers the first firing strictly after a moment.

What the guide defines, and so what is accepted:

- ``rate(N minute|minutes|hour|hours|day|days)``: N a positive integer, the unit singular
  exactly when N is 1. A rate "starts when you create the scheduled event rule": firings
  fall at ``anchor + k * rate`` (k ≥ 1), the anchor being when the rule got its schedule.
- cron fields and wildcards: minutes 0-59 and hours 0-23 (``, - * /``), day-of-month 1-31
  (``, - * ? / L W``), month 1-12 or JAN-DEC (``, - * /``), day-of-week 1-7 or SUN-SAT,
  1 being Sunday (``, - * ? L #``), year 1970-2199 (``, - * /``). Exactly one of
  day-of-month and day-of-week is ``?``. ``L`` is the month's last day (day-of-month) or
  Saturday (day-of-week); ``nL`` the month's last weekday n; ``LW`` the month's last
  weekday; ``nW`` the weekday nearest day n, never leaving the month; ``n#k`` the k-th
  weekday n of the month. Names are case-insensitive; a range may wrap (``FRI-MON``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

INVALID = "Parameter ScheduleExpression is not valid."
MIN_YEAR = 1970
MAX_YEAR = 2199

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
# AWS (as Quartz) numbers the days of the week from Sunday = 1.
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class ScheduleError(ValueError):
    """An expression AWS would refuse; ``str()`` is AWS's message."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(INVALID)
        # Why, for logs and tests; AWS's answer does not say.
        self.detail = detail


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class Schedule:
    expression: str

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after ``moment`` (UTC, whole minutes), or ``None``
        when the schedule never fires again."""
        raise NotImplementedError


@dataclass(frozen=True)
class RateSchedule(Schedule):
    expression: str
    minutes: int
    anchor: datetime

    def next_after(self, moment: datetime) -> datetime | None:
        anchor = _minute(self.anchor)
        step = timedelta(minutes=self.minutes)
        if moment < anchor + step:
            return anchor + step
        periods = (moment - anchor) // step
        return anchor + (periods + 1) * step


def _parse_rate(expression: str, anchor: datetime) -> RateSchedule:
    match = _RATE.fullmatch(expression)
    if match is None:
        raise ScheduleError("not rate(value unit)")
    value = int(match.group(1))
    unit = match.group(2)
    if value < 1:
        raise ScheduleError("the value must be positive")
    singular = not unit.endswith("s")
    if singular != (value == 1):
        raise ScheduleError("the unit is singular exactly when the value is 1")
    return RateSchedule(expression, value * _UNIT_MINUTES[unit.rstrip("s")], anchor)


# -- cron -----------------------------------------------------------------------------------


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    upper = text.upper()
    if names is not None and upper in names:
        return names[upper]
    if not text.isdigit() or len(text) > 4:
        raise ScheduleError(f"{text!r} is not a value")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{value} is outside {low}-{high}")
    return value


def _span(start: int, end: int, low: int, high: int) -> list[int]:
    """start..end inclusive, wrapping past ``high`` back to ``low`` (``FRI-MON``)."""
    if start <= end:
        return list(range(start, end + 1))
    return list(range(start, high + 1)) + list(range(low, end + 1))


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A field of plain values: lists of ``*``, ``n``, ``a-b``, each optionally ``/step``."""
    found: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            step = _number(step_text, 1, high if high > 1 else 1)
            if step < 1:
                raise ScheduleError("a step must be positive")
        if base == "*":
            candidates = list(range(low, high + 1))
        elif "-" in base:
            first, _, last = base.partition("-")
            candidates = _span(
                _number(first, low, high, names), _number(last, low, high, names), low, high
            )
        else:
            start = _number(base, low, high, names)
            # "n/step" runs from n to the field's end.
            candidates = list(range(start, high + 1)) if slash else [start]
        found.update(candidates[::step])
    if not found:
        raise ScheduleError("an empty field")
    return frozenset(found)


@dataclass(frozen=True)
class _DayOfMonth:
    any: bool = False
    days: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: int | None = None

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        if self.last:
            return day.day == length
        if self.last_weekday:
            last = date(day.year, day.month, length)
            while last.weekday() >= 5:
                last -= timedelta(days=1)
            return day == last
        if self.nearest_weekday is not None:
            return day == _nearest_weekday(day.year, day.month, self.nearest_weekday)
        return day.day in self.days


def _nearest_weekday(year: int, month: int, wanted: int) -> date | None:
    length = calendar.monthrange(year, month)[1]
    if wanted > length:
        return None
    target = date(year, month, wanted)
    if target.weekday() == 5:  # Saturday: the Friday before, or Monday if that leaves the month
        return target - timedelta(days=1) if wanted > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday: the Monday after, or Friday if that leaves the month
        return target + timedelta(days=1) if wanted < length else target - timedelta(days=2)
    return target


def _aws_weekday(day: date) -> int:
    """1 = Sunday … 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class _DayOfWeek:
    any: bool = False
    days: frozenset[int] = frozenset()
    last_of_month: int | None = None
    nth: tuple[int, int] | None = None

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        weekday = _aws_weekday(day)
        if self.last_of_month is not None:
            length = calendar.monthrange(day.year, day.month)[1]
            return weekday == self.last_of_month and day.day + 7 > length
        if self.nth is not None:
            wanted, index = self.nth
            return weekday == wanted and (day.day - 1) // 7 + 1 == index
        return weekday in self.days


def _parse_day_of_month(text: str) -> _DayOfMonth:
    upper = text.upper()
    if upper == "?":
        return _DayOfMonth(any=True)
    if upper == "L":
        return _DayOfMonth(last=True)
    if upper == "LW":
        return _DayOfMonth(last_weekday=True)
    if upper.endswith("W"):
        return _DayOfMonth(nearest_weekday=_number(upper[:-1], 1, 31))
    return _DayOfMonth(days=_values(text, 1, 31))


def _parse_day_of_week(text: str) -> _DayOfWeek:
    upper = text.upper()
    if upper == "?":
        return _DayOfWeek(any=True)
    if upper == "L":
        return _DayOfWeek(days=frozenset({7}))
    if "#" in upper:
        day, _, index = upper.partition("#")
        return _DayOfWeek(nth=(_number(day, 1, 7, _WEEKDAYS), _number(index, 1, 5)))
    if upper.endswith("L"):
        return _DayOfWeek(last_of_month=_number(upper[:-1], 1, 7, _WEEKDAYS))
    return _DayOfWeek(days=_values(text, 1, 7, _WEEKDAYS))


@dataclass(frozen=True)
class CronSchedule(Schedule):
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: _DayOfMonth
    months: frozenset[int]
    day_of_week: _DayOfWeek
    years: frozenset[int]

    def _day_matches(self, day: date) -> bool:
        # One of the two is "?" (matches everything), so both must hold.
        return self.day_of_month.matches(day) and self.day_of_week.matches(day)

    def next_after(self, moment: datetime) -> datetime | None:
        start = _minute(moment) + timedelta(minutes=1)
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                length = calendar.monthrange(year, month)[1]
                first_day = start.day if (year, month) == (start.year, start.month) else 1
                for day_number in range(first_day, length + 1):
                    day = date(year, month, day_number)
                    if not self._day_matches(day):
                        continue
                    found = self._first_time(day, start, hours, minutes)
                    if found is not None:
                        return found
        return None

    @staticmethod
    def _first_time(
        day: date, start: datetime, hours: list[int], minutes: list[int]
    ) -> datetime | None:
        today = day == start.date()
        for hour in hours:
            if today and hour < start.hour:
                continue
            for minute in minutes:
                if today and hour == start.hour and minute < start.minute:
                    continue
                return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        return None


def _parse_cron(expression: str) -> CronSchedule:
    match = _CRON.fullmatch(expression)
    if match is None:
        raise ScheduleError("not cron(fields)")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ScheduleError("a cron expression has six fields")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")
    for text, allowed in (
        (minutes, "0123456789,-*/"),
        (hours, "0123456789,-*/"),
        (year, "0123456789,-*/"),
        (day_of_month, "0123456789,-*?/LW"),
    ):
        if set(text.upper()) - set(allowed):
            raise ScheduleError(f"{text!r} uses a wildcard its field does not take")
    schedule = CronSchedule(
        expression=expression,
        minutes=_values(minutes, 0, 59),
        hours=_values(hours, 0, 23),
        day_of_month=_parse_day_of_month(day_of_month),
        months=_values(month, 1, 12, _MONTHS),
        day_of_week=_parse_day_of_week(day_of_week),
        years=_values(year, MIN_YEAR, MAX_YEAR),
    )
    if not _can_fire(schedule):
        raise ScheduleError("the expression never fires")
    return schedule


def _can_fire(schedule: CronSchedule) -> bool:
    """Whether some day of the named months/years matches at all (``30 FEB`` never does);
    the 28-year Gregorian cycle bounds the search for any year set."""
    years = sorted(schedule.years)
    for year in years[:28]:
        for month in schedule.months:
            length = calendar.monthrange(year, month)[1]
            for day_number in range(1, length + 1):
                if schedule._day_matches(date(year, month, day_number)):
                    return True
    return False


def parse(expression: str, *, anchor: datetime | None = None) -> Schedule:
    """The schedule ``expression`` names; ``anchor`` (when its rule got the schedule) is
    where a rate counts from."""
    if expression.startswith("rate("):
        return _parse_rate(expression, anchor or datetime.now(UTC))
    if expression.startswith("cron("):
        return _parse_cron(expression)
    raise ScheduleError("neither rate() nor cron()")


def latest_due(schedule: Schedule, after: datetime, now: datetime) -> datetime | None:
    """The last firing in ``(after, now]``: what a scheduler that was away fires once on its
    return (earlier missed firings are dropped, not replayed)."""
    if isinstance(schedule, RateSchedule):
        due = schedule.next_after(now - timedelta(minutes=schedule.minutes))
        return due if due is not None and after < due <= now else None
    # Look back over growing windows, so a long absence never walks every missed firing.
    for window in _LOOK_BACK:
        start = after if window is None else max(after, now - window)
        due = schedule.next_after(start)
        if due is not None and due <= now:
            while True:
                following = schedule.next_after(due)
                if following is None or following > now:
                    return due
                due = following
        if window is None or start == after:
            return None
    return None


_LOOK_BACK: tuple[timedelta | None, ...] = (
    timedelta(minutes=2),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=32),
    timedelta(days=367),
    None,
)
