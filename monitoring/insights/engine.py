"""Runs a parsed Logs Insights query over log events: no database here, only records in and
result rows out, so the language is tested in process over fixed events.

A record is a dict of field name → value (str, int, float). Every event gives
``@timestamp`` (epoch ms), ``@message``, ``@logStream``, ``@log`` (``account:group``),
``@ingestionTime`` and ``@ptr``; a JSON object line adds its members (nested ones as
``a.b``, arrays as ``a.0``); Lambda's platform lines add ``@type`` and ``@requestId``, and a
REPORT line ``@duration``, ``@billedDuration``, ``@memorySize``, ``@maxMemoryUsed`` (bytes,
as AWS gives them) and ``@initDuration``, as CloudWatch discovers them.

The engine is fed events one at a time (:meth:`Execution.feed`) and asked for the result
at the end (:meth:`Execution.finish`). Commands before the first ``stats`` or ``sort`` run
per record; ``sort`` followed only by ``limit``/``fields``/``display`` keeps just the top
rows (a heap), and ``stats`` keeps one accumulator per group (at most ``MAX_GROUPS``).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitoring import invocation_logs
from monitoring.insights import language as lang

Record = dict[str, Any]

MAX_GROUPS = 10_000
MAX_BUFFERED = 100_000
# Bytes of field values a query may hold at once (rows waiting to be sorted or returned,
# stats group keys) and values kept for pct() across all groups.
MAX_HELD_BYTES = 64 * 1024 * 1024
MAX_KEPT_VALUES = 1_000_000
MAX_DISCOVERED_FIELDS = 200
MAX_JSON_CHARS = 256 * 1024
REGEX_TIMEOUT = 0.25  # seconds per match: a catastrophic pattern fails the query instead
MAX_DISTINCT = 100_000


class QueryFailed(Exception):
    """The query cannot go on (a match ran out of time, too many rows to sort)."""


class BudgetExceeded(QueryFailed):
    pass


@dataclass(frozen=True)
class Event:
    timestamp: int
    message: str
    stream: str
    log: str  # "account:group"
    ingestion_time: int
    ptr: str


def record_size(record: Record) -> int:
    """About the bytes a record holds (its text values, and a little per field)."""
    return sum(len(value) + 16 if isinstance(value, str) else 16 for value in record.values())


def record_of(event: Event) -> Record:
    record: Record = {}
    message = event.message
    stripped = message.lstrip()
    if stripped.startswith("{") and len(message) <= MAX_JSON_CHARS:
        try:
            document = json.loads(message)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            _flatten(document, "", record)
    elif stripped.startswith(("START ", "END ", "REPORT ")):
        _platform_fields(stripped, record)
    record["@timestamp"] = event.timestamp
    record["@message"] = message
    record["@logStream"] = event.stream
    record["@log"] = event.log
    record["@ingestionTime"] = event.ingestion_time
    record["@ptr"] = event.ptr
    return record


def _flatten(value: Any, prefix: str, out: Record) -> None:
    if len(out) >= MAX_DISCOVERED_FIELDS:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                _flatten(item, f"{prefix}{key}.", out)
            else:
                _set(out, f"{prefix}{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _flatten(item, f"{prefix}{index}.", out)
            else:
                _set(out, f"{prefix}{index}", item)


def _set(out: Record, name: str, value: Any) -> None:
    if len(out) >= MAX_DISCOVERED_FIELDS or value is None:
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    out[name] = value


def _platform_fields(line: str, record: Record) -> None:
    mark = invocation_logs.mark(line)
    if mark is None:
        return
    record["@type"], record["@requestId"] = mark
    if mark[0] != "REPORT":
        return
    report = invocation_logs.report_parse(line)
    if report is None:
        return
    for name, value, scale in (
        ("@duration", report.duration_ms, 1),
        ("@billedDuration", report.billed_ms, 1),
        ("@memorySize", report.memory_mb, 1_000_000),
        ("@maxMemoryUsed", report.max_memory_mb, 1_000_000),
        ("@initDuration", report.init_duration_ms, 1),
    ):
        if value is not None:
            record[name] = _number(value * scale)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


# ---- values ---------------------------------------------------------------------------------


def to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def format_timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(ms) % 1000:03d}"


def _compare(left: Any, right: Any) -> int | None:
    """-1/0/1, numerically when both sides are numbers (or numeric text), else as text;
    None when either is missing."""
    if left is None or right is None:
        return None
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = to_text(left), to_text(right)
    return (x > y) - (x < y)


# ---- expressions ----------------------------------------------------------------------------


def _regex_search(compiled: Any, text: str) -> Any:
    try:
        return compiled.search(text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise QueryFailed("A regular expression took too long on one log event.") from None


def evaluate(expr: Any, record: Record) -> Any:
    if isinstance(expr, lang.Field):
        return record.get(expr.name)
    if isinstance(expr, lang.Literal):
        return expr.value
    if isinstance(expr, lang.Binary):
        op = expr.op
        if op == "and":
            return truthy(evaluate(expr.left, record)) and truthy(evaluate(expr.right, record))
        if op == "or":
            return truthy(evaluate(expr.left, record)) or truthy(evaluate(expr.right, record))
        left, right = evaluate(expr.left, record), evaluate(expr.right, record)
        if op in ("+", "-", "*", "/", "%"):
            return _arithmetic(op, left, right)
        order = _compare(left, right)
        if order is None:
            return False
        return {
            "=": order == 0,
            "!=": order != 0,
            "<": order < 0,
            "<=": order <= 0,
            ">": order > 0,
            ">=": order >= 0,
        }[op]
    if isinstance(expr, lang.Unary):
        if expr.op == "not":
            return not truthy(evaluate(expr.operand, record))
        number = to_number(evaluate(expr.operand, record))
        return None if number is None else _number(-number)
    if isinstance(expr, lang.Like):
        value = evaluate(expr.operand, record)
        if value is None:
            return False
        text = to_text(value)
        pattern = expr.pattern
        if isinstance(pattern, lang.Regex):
            found = _regex_search(pattern.compiled, text) is not None
        else:
            found = str(pattern.value) in text
        return found != expr.negate
    if isinstance(expr, lang.In):
        value = evaluate(expr.operand, record)
        if value is None:
            return False
        found = any(_compare(value, evaluate(item, record)) == 0 for item in expr.values)
        return found != expr.negate
    if isinstance(expr, lang.Call):
        return _call(expr, record)
    if isinstance(expr, lang.Duration):
        return expr.ms
    if isinstance(expr, lang.Regex):
        return expr.source
    raise QueryFailed(f"cannot evaluate {expr!r}")


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float):
        return value != 0
    return bool(value)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    a, b = to_number(left), to_number(right)
    if a is None or b is None:
        return None
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif b == 0:
        return None
    elif op == "/":
        result = a / b
    else:
        result = math.fmod(a, b)
    return _number(result) if math.isfinite(result) else None


def _call(expr: lang.Call, record: Record) -> Any:
    name = expr.name
    if name == "bin":
        period = expr.args[0].ms
        stamp = record.get("@timestamp")
        if not isinstance(stamp, int):
            return None
        return TimeBin(stamp - stamp % period)
    args = [evaluate(arg, record) for arg in expr.args]
    first = args[0] if args else None
    if name == "ispresent":
        return first is not None
    if name == "isempty":
        return first is None or to_text(first) == ""
    if name == "isblank":
        return first is None or to_text(first).strip() == ""
    if name == "strcontains":
        return first is not None and args[1] is not None and to_text(args[1]) in to_text(first)
    if first is None and name not in ("concat", "coalesce", "greatest", "least"):
        return None
    if name == "strlen":
        return len(to_text(first))
    if name == "toupper":
        return to_text(first).upper()
    if name == "tolower":
        return to_text(first).lower()
    if name == "trim":
        return to_text(first).strip()
    if name == "tostring":
        return to_text(first)
    if name == "tonumber":
        number = to_number(first)
        return None if number is None else _number(number)
    if name == "concat":
        return "".join(to_text(arg) for arg in args if arg is not None)
    if name == "coalesce":
        return next((arg for arg in args if arg is not None), None)
    if name == "substr":
        text = to_text(first)
        start = to_number(args[1])
        if start is None:
            return None
        begin = int(start)
        if len(args) == 3:
            length = to_number(args[2])
            return None if length is None else text[begin : begin + max(int(length), 0)]
        return text[begin:]
    if name == "replace":
        if args[1] is None or args[2] is None:
            return None
        return to_text(first).replace(to_text(args[1]), to_text(args[2]))
    if name in ("abs", "ceil", "floor"):
        number = to_number(first)
        if number is None:
            return None
        if name == "abs":
            return _number(abs(number))
        return _number(float(math.ceil(number) if name == "ceil" else math.floor(number)))
    if name in ("greatest", "least"):
        numbers = [n for n in (to_number(arg) for arg in args) if n is not None]
        if not numbers:
            return None
        return _number(max(numbers) if name == "greatest" else min(numbers))
    if name in ("datefloor", "dateceil"):
        stamp = to_number(first)
        if stamp is None or not isinstance(expr.args[1], lang.Duration):
            return None
        period = expr.args[1].ms
        floored = int(stamp) - int(stamp) % period
        if name == "dateceil" and floored != int(stamp):
            floored += period
        return TimeBin(floored)
    raise QueryFailed(f"function {name} is not supported")


@dataclass(frozen=True, order=True)
class TimeBin:
    """A time value (epoch ms) shown as a timestamp: what ``bin()`` gives."""

    ms: int

    def __str__(self) -> str:
        return format_timestamp(self.ms)


# ---- aggregates -----------------------------------------------------------------------------


@dataclass
class _Accumulator:
    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: Any = None
    high: Any = None
    values: list[float] | None = None
    distinct: set[int] | None = None  # hashes: values may be long


def _aggregate_calls(expr: Any, out: list[lang.Call]) -> None:
    if isinstance(expr, lang.Call):
        if expr.name in lang.AGGREGATES:
            out.append(expr)
            return
        for arg in expr.args:
            _aggregate_calls(arg, out)
    elif isinstance(expr, lang.Unary):
        _aggregate_calls(expr.operand, out)
    elif isinstance(expr, lang.Binary):
        _aggregate_calls(expr.left, out)
        _aggregate_calls(expr.right, out)


class _Group:
    def __init__(self, calls: list[lang.Call]) -> None:
        self.accumulators = [_Accumulator() for _ in calls]


def _accumulate(call: lang.Call, acc: _Accumulator, record: Record, budget: list[int]) -> None:
    if call.star:
        acc.count += 1
        return
    value = evaluate(call.args[0], record) if call.args else True
    if value is None:
        return
    if call.name == "count":
        acc.count += 1
        return
    if call.name == "count_distinct":
        if acc.distinct is None:
            acc.distinct = set()
        if len(acc.distinct) < MAX_DISTINCT:
            acc.distinct.add(hash(to_text(value)))
        return
    if call.name in ("min", "max"):
        acc.count += 1
        key = value.ms if isinstance(value, TimeBin) else value
        if acc.low is None or _compare(key, acc.low) == -1:
            acc.low = key
        if acc.high is None or _compare(key, acc.high) == 1:
            acc.high = key
        return
    number = to_number(value)
    if number is None:
        return
    acc.count += 1
    acc.total += number
    acc.squares += number * number
    if call.name == "pct":
        if acc.values is None:
            acc.values = []
        budget[0] -= 1
        if budget[0] < 0:
            raise BudgetExceeded("Too many values for pct().")
        acc.values.append(number)


def _result(call: lang.Call, acc: _Accumulator) -> Any:
    name = call.name
    if name == "count":
        return acc.count
    if name == "count_distinct":
        return len(acc.distinct or ())
    if acc.count == 0:
        return None
    if name == "sum":
        return _number(acc.total)
    if name == "avg":
        return acc.total / acc.count
    if name == "min":
        return acc.low
    if name == "max":
        return acc.high
    if name == "stddev":
        if acc.count < 2:
            return 0
        mean = acc.total / acc.count
        variance = max(acc.squares / acc.count - mean * mean, 0.0) * acc.count / (acc.count - 1)
        return math.sqrt(variance)
    if name == "pct":
        values = sorted(acc.values or ())
        if not values:
            return None
        percentile = float(call.args[1].value)
        percentile = min(max(percentile, 0.0), 100.0)
        index = min(len(values) - 1, max(0, math.ceil(percentile / 100 * len(values)) - 1))
        return _number(values[index])
    raise QueryFailed(f"aggregate {name} is not supported")


def _evaluate_with(expr: Any, record: Record, results: dict[int, Any]) -> Any:
    if isinstance(expr, lang.Call) and expr.name in lang.AGGREGATES:
        return results[id(expr)]
    if isinstance(expr, lang.Call | lang.Unary | lang.Binary):
        # Rebuild the expression with literals for the aggregates (small trees only).
        return evaluate(_replace(expr, results), record)
    return evaluate(expr, record)


def _replace(expr: Any, results: dict[int, Any]) -> Any:
    if isinstance(expr, lang.Call):
        if expr.name in lang.AGGREGATES:
            return lang.Literal(results[id(expr)])
        return lang.Call(expr.name, tuple(_replace(a, results) for a in expr.args), expr.star)
    if isinstance(expr, lang.Unary):
        return lang.Unary(expr.op, _replace(expr.operand, results))
    if isinstance(expr, lang.Binary):
        return lang.Binary(expr.op, _replace(expr.left, results), _replace(expr.right, results))
    return expr


class _Stats:
    def __init__(self, command: lang.StatsCommand, budget: list[int]) -> None:
        self.command = command
        self.calls: list[lang.Call] = []
        for item in command.aggregates:
            _aggregate_calls(item.expr, self.calls)
        self.groups: dict[tuple[Any, ...], tuple[Record, _Group]] = {}
        self.budget = budget
        self.held = 0

    def add(self, record: Record) -> None:
        keys: list[Any] = []
        by_values: Record = {}
        for item in self.command.by:
            value = evaluate(item.expr, record)
            by_values[item.name] = value
            keys.append(value.ms if isinstance(value, TimeBin) else value)
        key = tuple(keys)
        entry = self.groups.get(key)
        if entry is None:
            if len(self.groups) >= MAX_GROUPS:
                return  # AWS answers at most 10,000 groups, too
            self.held += record_size(by_values)
            if self.held > MAX_HELD_BYTES:
                raise BudgetExceeded("The stats groups hold too much.")
            entry = (by_values, _Group(self.calls))
            self.groups[key] = entry
        for call, acc in zip(self.calls, entry[1].accumulators, strict=True):
            _accumulate(call, acc, record, self.budget)

    def rows(self) -> list[Record]:
        rows: list[Record] = []
        if not self.groups and not self.command.by:
            self.groups[()] = ({}, _Group(self.calls))
        for by_values, group in self.groups.values():
            results = {
                id(call): _result(call, acc)
                for call, acc in zip(self.calls, group.accumulators, strict=True)
            }
            row: Record = {}
            for name, value in by_values.items():
                if value is not None:
                    row[name] = value
            for item in self.command.aggregates:
                value = _evaluate_with(item.expr, {}, results)
                if value is not None:
                    row[item.name] = value
            rows.append(row)
        # AWS lists bins in time order when grouping by one.
        bins = [item.name for item in self.command.by if _is_bin(item.expr)]
        if bins:
            rows.sort(key=lambda row: tuple(_bin_ms(row.get(name)) for name in bins))
        return rows


def _is_bin(expr: Any) -> bool:
    return isinstance(expr, lang.Call) and expr.name == "bin"


def _bin_ms(value: Any) -> int:
    return value.ms if isinstance(value, TimeBin) else -1


# ---- sorting --------------------------------------------------------------------------------


class _Descending:
    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key


_CHUNKS = re.compile(r"\d+|\D+")


def natural_key(text: str) -> tuple[tuple[Any, ...], ...]:
    """AWS's sort order for values that are not numbers: runs of digits and of other
    characters compared chunk by chunk, other characters by code point, digit runs by
    length and then value (``5A`` < ``111A`` < ``2345_`` < ``@``)."""
    return tuple(
        ("0", len(chunk), chunk) if chunk[0].isdigit() else (chunk,)
        for chunk in _CHUNKS.findall(text)
    )


def _sort_key(keys: tuple[tuple[Any, bool], ...], record: Record) -> tuple[Any, ...]:
    """As AWS sorts ascending: every value that is not a number (in natural order) before
    every number; missing values last whatever the direction."""
    parts: list[Any] = []
    for expr, descending in keys:
        value = evaluate(expr, record)
        if isinstance(value, TimeBin):
            value = value.ms
        if value is None:
            parts.append((2, 0.0, ()))
            continue
        number = to_number(value)
        key = (1, number, ()) if number is not None else (0, 0.0, natural_key(to_text(value)))
        parts.append(_Descending(key) if descending else key)
    return tuple(parts)


# ---- the pipeline ---------------------------------------------------------------------------


def _project(items: tuple[lang.Named, ...], record: Record, keep_others: bool) -> Record:
    out: Record = dict(record) if keep_others else {}
    values = {item.name: evaluate(item.expr, record) for item in items}
    for name, value in values.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _parse_into(command: lang.ParseCommand, record: Record) -> None:
    source = evaluate(command.source, record)
    if source is None:
        return
    match = _regex_search(command.pattern, to_text(source))
    if match is None:
        return
    if command.pattern.groupindex:
        for name in command.names:
            value = match.group(name)
            if value is not None:
                record[name] = value
    else:
        for name, value in zip(command.names, match.groups(), strict=False):
            if value is not None:
                record[name] = value


@dataclass
class Result:
    rows: list[Record]
    matched: int
    fields: list[str] | None  # the fields to show (fields/display), None for all
    is_stats: bool


@dataclass
class Execution:
    """One query run: feed it records, then ask for the result."""

    query: lang.Query
    limit: int
    matched: int = 0
    _stages: list[Any] = field(default_factory=list)
    _pct_budget: list[int] = field(default_factory=lambda: [MAX_KEPT_VALUES])
    _held: int = 0

    def __post_init__(self) -> None:
        # The commands up to the first blocking one (stats or sort) run per record.
        commands = list(self.query.commands)
        self._head: list[Any] = []
        while commands and not isinstance(commands[0], lang.StatsCommand | lang.SortCommand):
            if isinstance(commands[0], lang.LimitCommand):
                break
            self._head.append(commands.pop(0))
        self._blocking = commands[0] if commands else None
        self._tail = commands[1:] if commands else []
        self._stats: _Stats | None = None
        self._buffer: list[Any] = []
        self._counter = 0
        self._top: int | None = None
        if isinstance(self._blocking, lang.StatsCommand):
            self._stats = _Stats(self._blocking, self._pct_budget)
        elif isinstance(self._blocking, lang.SortCommand):
            if all(
                isinstance(c, lang.LimitCommand | lang.FieldsCommand | lang.DisplayCommand)
                for c in self._tail
            ):
                limits = [c.count for c in self._tail if isinstance(c, lang.LimitCommand)]
                self._top = min([*limits, self.limit])
        elif isinstance(self._blocking, lang.LimitCommand):
            self._top = min(self._blocking.count, self.limit)

    def wants_more(self) -> bool:
        """False once more records cannot change the result (a plain ``limit`` reached)."""
        if self._blocking is None:
            return len(self._buffer) < self.limit and self._held < MAX_HELD_BYTES
        if isinstance(self._blocking, lang.LimitCommand):
            full = self._top is not None and len(self._buffer) >= self._top
            return not full and self._held < MAX_HELD_BYTES
        return True

    def feed(self, record: Record) -> None:
        for command in self._head:
            if isinstance(command, lang.FilterCommand):
                if not truthy(evaluate(command.condition, record)):
                    return
            elif isinstance(command, lang.ParseCommand):
                _parse_into(command, record)
            elif isinstance(command, (lang.FieldsCommand, lang.DisplayCommand)):
                record = _project(command.items, record, keep_others=True)
        self.matched += 1
        if self._stats is not None:
            self._stats.add(record)
            return
        if isinstance(self._blocking, lang.SortCommand):
            key = _sort_key(self._blocking.keys, record)
            self._counter += 1
            entry = (key, self._counter, record)
            if self._top is not None:
                if len(self._buffer) < self._top:
                    heapq.heappush(self._buffer, _Reverse(entry))
                    self._hold(record)
                elif _Reverse(entry) > self._buffer[0]:
                    dropped = heapq.heapreplace(self._buffer, _Reverse(entry))
                    self._held -= record_size(dropped.entry[2])
                    self._hold(record)
                return
            self._buffer.append(entry)
            self._hold(record)
        elif self.wants_more():
            self._buffer.append(record)
            self._held += record_size(record)
        if len(self._buffer) > MAX_BUFFERED:
            raise BudgetExceeded(f"More than {MAX_BUFFERED} records to sort.")

    def _hold(self, record: Record) -> None:
        self._held += record_size(record)
        if self._held > MAX_HELD_BYTES:
            raise BudgetExceeded("The records to sort hold too much.")

    def finish(self) -> Result:
        rows: list[Record]
        tail = list(self._tail)
        if self._stats is not None:
            rows = self._stats.rows()
        elif isinstance(self._blocking, lang.SortCommand):
            if self._top is not None:
                entries = sorted((item.entry for item in self._buffer), key=lambda e: e[:2])
            else:
                entries = sorted(self._buffer, key=lambda e: e[:2])
            rows = [entry[2] for entry in entries]
        else:
            rows = list(self._buffer)
            if isinstance(self._blocking, lang.LimitCommand):
                rows = rows[: self._blocking.count]
        is_stats = self._stats is not None
        for command in tail:
            rows = _apply(command, rows, self._pct_budget)
            if isinstance(command, lang.StatsCommand):
                is_stats = True
        rows = rows[: self.limit]
        return Result(rows, self.matched, _shown_fields(self.query), is_stats)


@dataclass(frozen=True)
class _Reverse:
    """A heap entry that orders the worst-sorting record first (so it is dropped)."""

    entry: tuple[Any, int, Record]

    def __lt__(self, other: _Reverse) -> bool:
        return bool(other.entry[:2] < self.entry[:2])

    def __gt__(self, other: _Reverse) -> bool:
        return bool(self.entry[:2] < other.entry[:2])


def _apply(command: Any, rows: list[Record], budget: list[int]) -> list[Record]:
    if isinstance(command, lang.FilterCommand):
        return [row for row in rows if truthy(evaluate(command.condition, row))]
    if isinstance(command, lang.ParseCommand):
        for row in rows:
            _parse_into(command, row)
        return rows
    if isinstance(command, lang.FieldsCommand | lang.DisplayCommand):
        return [_project(command.items, row, keep_others=True) for row in rows]
    if isinstance(command, lang.LimitCommand):
        return rows[: command.count]
    if isinstance(command, lang.SortCommand):
        return sorted(rows, key=lambda row: _sort_key(command.keys, row))
    if isinstance(command, lang.StatsCommand):
        stats = _Stats(command, budget)
        for row in rows:
            stats.add(row)
        return stats.rows()
    raise QueryFailed(f"command {command!r} is not supported")


def _shown_fields(query: lang.Query) -> list[str] | None:
    """The fields the results show: the last ``display``'s, else every ``fields`` and
    ``stats`` name (in order), else None (all fields)."""
    display: list[str] | None = None
    shown: list[str] = []
    seen_fields = False
    for command in query.commands:
        if isinstance(command, lang.DisplayCommand):
            display = [item.name for item in command.items]
        elif isinstance(command, lang.FieldsCommand):
            seen_fields = True
            shown += [item.name for item in command.items if item.name not in shown]
        elif isinstance(command, lang.StatsCommand):
            # Rows after stats are its groups: an earlier display names nothing in them.
            seen_fields = True
            display = None
            shown = [item.name for item in (*command.by, *command.aggregates)]
        elif isinstance(command, lang.ParseCommand) and seen_fields:
            shown += [name for name in command.names if name not in shown]
    if display is not None:
        return display
    return shown if seen_fields else None


def render(result: Result, max_bytes: int) -> list[list[dict[str, str]]]:
    """Rows as GetQueryResults gives them: ``[{field, value}]`` in the fields' order,
    values as text, ``@ptr`` on rows of events; at most ``max_bytes`` of values."""
    out: list[list[dict[str, str]]] = []
    size = 0
    for row in result.rows:
        names: Iterable[str]
        if result.fields is not None:
            names = result.fields
        else:
            names = [name for name in row if name != "@ptr"]
        cells: list[dict[str, str]] = []
        for name in names:
            value = row.get(name)
            if value is None:
                continue
            text = to_text(value)
            if name in ("@timestamp", "@ingestionTime") and isinstance(value, int):
                text = format_timestamp(value)
            cells.append({"field": name, "value": text})
            size += len(name) + len(text) + 24
        if not result.is_stats and "@ptr" in row:
            cells.append({"field": "@ptr", "value": str(row["@ptr"])})
        if size > max_bytes and out:
            break
        out.append(cells)
    return out


def run(query: lang.Query, events: Iterable[Event], limit: int) -> Result:
    """The whole query over ``events`` (tests and small inputs)."""
    execution = Execution(query, limit)
    for event in events:
        if not execution.wants_more():
            break
        execution.feed(record_of(event))
    return execution.finish()
