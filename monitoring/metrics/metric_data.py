"""The metric reading API: metric queries and math expressions over a window, for one account.

:func:`metric_data_evaluate` answers GetMetricData and is meant for alarms too: an alarm on
one metric is one :class:`DataQuery` with a :class:`MetricStat`; an alarm on metric math is
its ``Metrics`` list as queries (``member`` names the request member in error messages).
It checks the queries as CloudWatch does (Ids, one of MetricStat or Expression, statistics,
periods, references, cycles) and raises ``ValidationException`` errors; the results hold
only the periods with data, ascending.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from awsapi.errors import AWSError
from monitoring.metrics import metric_math, reading
from monitoring.metrics.metric_math import MathError, Scalar, Series, SeriesArray

MAX_QUERIES = 500
# What one call may make the server compute: periods read for metric queries, and period
# values times operations for expressions.
MAX_PERIODS = 1_008_000
MAX_EXPRESSION_WORK = 5_000_000
ARITHMETIC_ERROR = (
    "ArithmeticError",
    "One or more data-points have been dropped due to non-numeric values "
    "(NaN, -Infinite, +Infinite)",
)
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]{0,254}$")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


@dataclass(frozen=True)
class MetricStat:
    metric: reading.MetricId
    period: int
    stat: str
    unit: str | None = None


@dataclass(frozen=True)
class DataQuery:
    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None  # an expression's period, for its constant results


@dataclass
class DataResult:
    id: str
    label: str
    timestamps: list[int]  # period starts, ascending
    values: list[float]
    messages: list[tuple[str, str]] = field(default_factory=list)


def _invalid(message: str) -> AWSError:
    return AWSError(message, code="ValidationException", status=400)


def valid_period(period: int) -> bool:
    return period in HIGH_RESOLUTION_PERIODS or (period > 0 and period % 60 == 0)


def _checked(
    queries: Sequence[DataQuery], member: str
) -> tuple[dict[str, metric_math.Node], list[str]]:
    """The parsed expressions by Id, and the order to evaluate them in."""
    if not queries:
        raise _invalid(f"The parameter {member} must contain at least one query.")
    if len(queries) > MAX_QUERIES:
        raise _invalid(f"The collection {member} must not have a size greater than {MAX_QUERIES}.")
    seen: set[str] = set()
    trees: dict[str, metric_math.Node] = {}
    for index, query in enumerate(queries, 1):
        where = f"{member}.member.{index}"
        if not _ID.match(query.id):
            raise _invalid(
                f"The value {query.id[:255]} for parameter {where}.Id is invalid: an Id starts "
                "with a lowercase letter and holds only letters, numbers and underscores."
            )
        if query.id in seen:
            raise _invalid(f"The values for parameter id in {member} are not unique.")
        seen.add(query.id)
        if (query.metric_stat is None) == (query.expression is None):
            raise _invalid(
                f"Exactly one of {where}.MetricStat and {where}.Expression must be specified."
            )
        if query.metric_stat is not None:
            stat = query.metric_stat
            if not reading.valid_stat(stat.stat):
                raise _invalid(
                    f"The value {stat.stat[:64]} for parameter {where}.MetricStat.Stat is not a "
                    "valid statistic."
                )
            if not valid_period(stat.period):
                raise _invalid(
                    f"The value {stat.period} for parameter {where}.MetricStat.Period is "
                    "invalid: it must be 1, 5, 10, 20, 30 or a multiple of 60."
                )
        else:
            assert query.expression is not None
            try:
                trees[query.id] = metric_math.parse(query.expression)
            except MathError as exc:
                raise _invalid(f"Error in expression {query.id}: {exc}") from None
        if query.period is not None and not valid_period(query.period):
            raise _invalid(
                f"The value {query.period} for parameter {where}.Period is invalid: it must "
                "be 1, 5, 10, 20, 30 or a multiple of 60."
            )
    # References, then an order in which every expression follows what it names.
    needs: dict[str, set[str]] = {}
    for name, tree in trees.items():
        named = metric_math.references(tree)
        unknown = sorted(named - seen)
        if unknown:
            raise _invalid(f"Error in expression {name}: Unrecognized identifier {unknown[0]}")
        needs[name] = named & trees.keys()
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in trees:
        if state.get(root) == 2:
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(needs[root]))]
        state[root] = 1
        while stack:
            name, pending = stack[-1]
            if not pending:
                stack.pop()
                state[name] = 2
                order.append(name)
                continue
            child = pending.pop()
            if state.get(child) == 1:
                raise _invalid(f"Error in expression {name}: Circular dependency on {child}")
            if state.get(child) != 2:
                state[child] = 1
                stack.append((child, sorted(needs[child])))
    return trees, order


def queries_check(queries: Sequence[DataQuery], member: str) -> None:
    """Check queries as :func:`metric_data_evaluate` does, without reading any data (what
    PutMetricAlarm checks of a math alarm's ``Metrics``)."""
    _checked(queries, member)


class _Context:
    """What expressions are evaluated against: the request's values so far."""

    def __init__(
        self, start: float, end: float, default_period: int, metric_ids: Sequence[str]
    ) -> None:
        self.start = start
        self.end = end
        self.default_period = default_period
        self.values: dict[str, Scalar | Series | SeriesArray] = {}
        self.periods: dict[str, int] = {}
        self.metric_ids = list(metric_ids)
        self.dropped = False

    def reference(self, name: str) -> Scalar | Series | SeriesArray:
        try:
            return self.values[name]
        except KeyError:
            raise MathError(f"Unrecognized identifier {name}") from None

    def metrics(self) -> Sequence[tuple[str, Series]]:
        found = []
        for name in self.metric_ids:
            value = self.values[name]
            assert isinstance(value, Series)
            found.append((name, value))
        return found

    def period_of(self, name: str) -> int | None:
        return self.periods.get(name)

    def grid(self, period: int | None) -> range:
        step = period or self.default_period
        return range(int(self.start) // step * step, math.ceil(self.end), step)

    def arithmetic_error(self) -> None:
        self.dropped = True


def _stat_series(account_id: str, query: DataQuery, start: float, end: float, now: float) -> Series:
    stat = query.metric_stat
    assert stat is not None
    found = reading.datapoints(
        account_id,
        stat.metric,
        start=start,
        end=end,
        period=stat.period,
        statistics=[stat.stat],
        unit=stat.unit,
        now=now,
    )
    points = {dp.timestamp: dp.values[stat.stat] for dp in found if stat.stat in dp.values}
    return Series(query.label or stat.metric.metric_name, stat.period, points)


def _size(node: metric_math.Node) -> int:
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        count += 1
        if isinstance(current, metric_math.Call):
            stack.extend(current.args)
        elif isinstance(current, metric_math.Array):
            stack.extend(current.items)
        elif isinstance(current, metric_math.Unary):
            stack.append(current.operand)
        elif isinstance(current, metric_math.Binary):
            stack.extend((current.left, current.right))
    return count


def metric_data_evaluate(
    account_id: str,
    queries: Sequence[DataQuery],
    *,
    start: float,
    end: float,
    now: float,
    member: str = "MetricDataQueries",
) -> list[DataResult]:
    """The results of the queries that return data, in request order (an expression giving
    an array of series gives one result per series, all with its Id)."""
    trees, order = _checked(queries, member)
    stats = [query for query in queries if query.metric_stat is not None]
    periods = [query.metric_stat.period for query in stats if query.metric_stat is not None]
    default_period = min(periods or [query.period for query in queries if query.period] or [60])
    requested = sum(math.ceil((end - start) / period) + 1 for period in periods)
    if requested > MAX_PERIODS:
        raise _invalid(
            f"You have requested up to {requested:,} periods, which exceeds the limit of "
            f"{MAX_PERIODS:,}. Use larger periods, a shorter range or fewer queries."
        )
    points = math.ceil((end - start) / default_period) + 1
    work = sum(_size(tree) for tree in trees.values()) * points
    if work > MAX_EXPRESSION_WORK:
        raise _invalid(
            "The expressions are too large to evaluate over this range: use larger "
            "periods, a shorter range or smaller expressions."
        )
    context = _Context(start, end, default_period, [query.id for query in stats])
    for query in stats:
        assert query.metric_stat is not None
        context.values[query.id] = _stat_series(account_id, query, start, end, now)
        context.periods[query.id] = query.metric_stat.period
    messages: dict[str, list[tuple[str, str]]] = {}
    by_id = {query.id: query for query in queries}
    for name in order:
        context.dropped = False
        try:
            context.values[name] = metric_math.evaluate(trees[name], context)
        except MathError as exc:
            raise _invalid(f"Error in expression {name}: {exc}") from None
        if context.dropped:
            messages[name] = [ARITHMETIC_ERROR]
    results: list[DataResult] = []
    for query in queries:
        if not query.return_data:
            continue
        value = context.values[query.id]
        notes = messages.get(query.id, [])
        if isinstance(value, Scalar):
            grid = context.grid(by_id[query.id].period)
            constant = {ts: value.value for ts in grid} if math.isfinite(value.value) else {}
            value = Series(query.id, grid.step, constant)
        if isinstance(value, Series):
            label = query.label or (value.label if query.metric_stat else query.id)
            results.append(_result(query.id, label, value, notes))
        else:
            for series in value.items:
                label = f"{query.label} {series.label}" if query.label else series.label
                results.append(_result(query.id, label, series, notes))
    return results


def _result(
    query_id: str, label: str, series: Series, messages: list[tuple[str, str]]
) -> DataResult:
    ordered = sorted(series.points.items())
    return DataResult(
        id=query_id,
        label=label,
        timestamps=[ts for ts, _ in ordered],
        values=[value for _, value in ordered],
        messages=list(messages),
    )
