"""The metric math language in process: what expressions give, and what they are refused for."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from monitoring.metrics import metric_math
from monitoring.metrics.metric_math import MathError, Scalar, Series, SeriesArray

# Minutes 0..5 of a window (period starts, seconds); m1 misses minute 2, m2 minute 4.
GRID = range(0, 360, 60)
M1 = {0: 1.0, 60: 2.0, 180: 4.0, 240: 5.0, 300: 6.0}
M2 = {0: 10.0, 60: 0.0, 120: 30.0, 180: 40.0, 300: 60.0}
ERR = {0: 1.0, 60: 1.0, 120: 1.0}


class Context:
    def __init__(self) -> None:
        self.values: dict[str, Scalar | Series | SeriesArray] = {
            "m1": Series("m1", 60, dict(M1)),
            "m2": Series("m2", 60, dict(M2)),
            "errors_a": Series("errors_a", 60, dict(ERR)),
        }
        self.dropped = False

    def reference(self, name: str) -> Scalar | Series | SeriesArray:
        if name not in self.values:
            raise MathError(f"Unrecognized identifier {name}")
        return self.values[name]

    def metrics(self) -> Sequence[tuple[str, Series]]:
        found = []
        for name, value in self.values.items():
            assert isinstance(value, Series)
            found.append((name, value))
        return found

    def period_of(self, name: str) -> int | None:
        return 60 if name in self.values else None

    def grid(self, period: int | None) -> range:
        return range(0, 360, period or 60)

    def arithmetic_error(self) -> None:
        self.dropped = True


def run(expression: str) -> tuple[Scalar | Series | SeriesArray, bool]:
    context = Context()
    value = metric_math.evaluate(metric_math.parse(expression), context)
    return value, context.dropped


def points(value: Scalar | Series | SeriesArray) -> object:
    """A value as plain data: a number, {ts: v}, or a list of {ts: v}."""
    if isinstance(value, Scalar):
        return value.value
    if isinstance(value, Series):
        return value.points
    return [series.points for series in value.items]


CASES: list[tuple[str, object]] = [
    # scalars and precedence
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("2 ^ 3 ^ 2", 512.0),  # right-associative
    ("-2 ^ 2", -4.0),  # ^ binds tighter than a unary minus
    ("10 / 4", 2.5),
    ("7 - 2 - 1", 4.0),
    ("1.5e2 + .5", 150.5),
    ("3 > 2", 1.0),
    ("3 < 2", 0.0),
    ("2 >= 2 AND 1 != 1", 0.0),
    ("0 || 5", 1.0),
    ("NOT 0", 1.0),
    ("!1", 0.0),
    ("1 == 1 && 2 <= 3", 1.0),
    # series with scalars and with series (intersection of timestamps)
    ("m1 * 2", {ts: v * 2 for ts, v in M1.items()}),
    ("100 - m1", {ts: 100 - v for ts, v in M1.items()}),
    ("m1 + m2", {0: 11.0, 60: 2.0, 180: 44.0, 300: 66.0}),
    ("m2 - m1", {0: 9.0, 60: -2.0, 180: 36.0, 300: 54.0}),
    ("-m1", {ts: -v for ts, v in M1.items()}),
    ("m1 ^ 2", {ts: v**2 for ts, v in M1.items()}),
    ("m1 > 3", {0: 0.0, 60: 0.0, 180: 1.0, 240: 1.0, 300: 1.0}),
    ("m1 > 1 AND m2 > 5", {0: 0.0, 60: 0.0, 180: 1.0, 300: 1.0}),
    # aggregations: one series -> scalar, an array -> series
    ("SUM(m1)", 18.0),
    ("AVG(m1)", 3.6),
    ("MIN(m2)", 0.0),
    ("MAX(m2)", 60.0),
    ("STDDEV([m1])", {ts: 0.0 for ts in M1}),
    ("m1 - AVG(m1)", {ts: v - 3.6 for ts, v in M1.items()}),
    ("SUM([m1, m2])", {0: 11.0, 60: 2.0, 120: 30.0, 180: 44.0, 240: 5.0, 300: 66.0}),
    ("MAX([m1, m2])", {0: 10.0, 60: 2.0, 120: 30.0, 180: 40.0, 240: 5.0, 300: 60.0}),
    ("AVG(METRICS())", {0: 4.0, 60: 1.0, 120: 15.5, 180: 22.0, 240: 5.0, 300: 33.0}),
    ("METRIC_COUNT(METRICS())", 3.0),
    ('METRICS("errors")', [ERR]),
    ('SUM(METRICS("m"))', {0: 11.0, 60: 2.0, 120: 30.0, 180: 44.0, 240: 5.0, 300: 66.0}),
    ("METRICS() * 2", [{ts: v * 2 for ts, v in s.items()} for s in (M1, M2, ERR)]),
    ("FIRST(METRICS())", M1),
    ("LAST(METRICS())", ERR),
    # per-series functions
    ("ABS(0 - m1)", M1),
    ("CEIL(m1 / 4)", {0: 1.0, 60: 1.0, 180: 1.0, 240: 2.0, 300: 2.0}),
    ("FLOOR(m1 / 4)", {0: 0.0, 60: 0.0, 180: 1.0, 240: 1.0, 300: 1.0}),
    ("LOG10(m2 * 0 + 100)", {ts: 2.0 for ts in M2}),
    ("DIFF(m1)", {60: 1.0, 180: 2.0, 240: 1.0, 300: 1.0}),
    ("RATE(m1)", {60: 1 / 60, 180: 2 / 120, 240: 1 / 60, 300: 1 / 60}),
    ("DIFF_TIME(m1)", {60: 60.0, 180: 120.0, 240: 60.0, 300: 60.0}),
    ("RUNNING_SUM(m1)", {0: 1.0, 60: 3.0, 180: 7.0, 240: 12.0, 300: 18.0}),
    ("DATAPOINT_COUNT(m1)", 5.0),
    ("PERIOD(m1)", 60.0),
    ("EPOCH(m1)", {ts: float(ts) for ts in M1}),
    ("REMOVE_EMPTY([m1, IF(m1 > 100, m1), m2])", [M1, M2]),
    ("METRIC_COUNT(REMOVE_EMPTY([IF(m1 > 100, m1)]))", 0.0),
    # filling
    ("FILL(m1, 0)", {**M1, 120: 0.0}),
    ("FILL(m1, REPEAT)", {**M1, 120: 2.0}),
    ("FILL(m1, LINEAR)", {**M1, 120: 3.0}),
    ("FILL(m2, m1)", {**M2, 240: 5.0}),
    ('FILL(METRICS("err"), 0)', [{**ERR, 180: 0.0, 240: 0.0, 300: 0.0}]),
    # conditions
    ("IF(m1 > 3, m1, 0)", {0: 0.0, 60: 0.0, 180: 4.0, 240: 5.0, 300: 6.0}),
    ("IF(m1 > 3, m1)", {180: 4.0, 240: 5.0, 300: 6.0}),
    ("IF(m1 > 3, m2, m1)", {0: 1.0, 60: 2.0, 180: 40.0, 300: 60.0}),
    ("IF(1, m1, m2)", M1),
    ("TIME_SERIES(7)", {ts: 7.0 for ts in GRID}),
    # case of functions and whitespace do not matter
    ("sum( m1 )", 18.0),
    ("  m1\t*\n1 ", M1),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_an_expression_gives_what_cloudwatch_gives(expression: str, expected: object) -> None:
    value, dropped = run(expression)
    got = points(value)
    if isinstance(expected, float):
        assert got == pytest.approx(expected)
    else:
        assert got == pytest.approx(expected) if isinstance(expected, dict) else got == expected
    assert not dropped


def test_the_table_holds_at_least_forty_cases() -> None:
    assert len(CASES) + len(ERRORS) >= 40


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("m1 / (m2 * 0)", {}),  # every point divides by zero
        ("m1 / m2", {0: 0.1, 180: 0.1, 300: 0.1}),  # minute 1 divides by zero
        ("LOG(m1 - 2)", {180: math.log(2), 240: math.log(3), 300: math.log(4)}),
        ("m2 ^ -1", {0: 0.1, 120: 1 / 30, 180: 1 / 40, 300: 1 / 60}),
    ],
)
def test_a_point_that_is_not_a_finite_number_is_dropped_and_reported(
    expression: str, expected: dict[int, float]
) -> None:
    value, dropped = run(expression)
    assert points(value) == pytest.approx(expected)
    assert dropped


ERRORS: list[tuple[str, str]] = [
    ("", "empty"),
    ("   ", "empty"),
    ("m1 +", "Syntax error at position 5"),
    ("m1 m2", "expected an operator"),
    ("(m1", "expected ')'"),
    ("m1)", "expected an operator"),
    ("SUM(m1,", "Syntax error"),
    ("1 < 2 < 3", "cannot be chained"),
    ("m1 $ 2", "unexpected '$'"),
    ("FOO(m1)", "Unrecognized function: FOO"),
    ("__INIT__(m1)", "Unrecognized function: __INIT__"),
    ("Errors + 1", "starts with a lowercase letter"),
    ("m9 * 2", "Unrecognized identifier m9"),
    ("REPEAT + 1", "expects a number or a time series"),
    ('"text" * 2', "expects a number or a time series"),
    ("FILL(m1)", "FILL takes 2 arguments, 1 given"),
    ('FILL(m1, "x")', "FILL's second argument"),
    ("DIFF(3)", "DIFF expects a time series"),
    ("METRICS(m1)", "METRICS expects a string"),
    ("METRICS() + METRICS()", "cannot combine two arrays"),
    ("IF(m1)", "IF takes 2 to 3 arguments"),
    ("TIME_SERIES(m1)", "TIME_SERIES expects a number"),
    ('FIRST(METRICS("zzz"))', "FIRST of an empty array"),
    ("SUM([m1, 2])", "holds only time series"),
    ("1e999", "out of range"),
    ("(" * 33 + "1" + ")" * 33, "deeper than 32"),
    ("-" * 40 + "1", "deeper than 32"),
    ("+".join(["m1"] * 200), "more than 128 nested operations"),
    ("1" * 2049, "longer than 2048"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_an_expression_is_refused_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(MathError) as excinfo:
        run(expression)
    assert message in str(excinfo.value)


def test_a_huge_or_deep_expression_never_reaches_the_recursion_limit() -> None:
    """Within the limits the parser and evaluator stay shallow; beyond them, MathError."""
    deep = "(" * 32 + "m1" + ")" * 32
    assert points(run(deep)[0]) == M1
    long_sum = " + ".join(["m1"] * 128)
    assert points(run(long_sum)[0]) == pytest.approx({ts: v * 128 for ts, v in M1.items()})
    for hostile in ["(" * 100_000, "-" * 100_000 + "1", "[" * 5000, "SUM(" * 3000]:
        with pytest.raises(MathError):
            metric_math.parse(hostile[:2048])


def test_references_name_every_id_an_expression_uses() -> None:
    tree = metric_math.parse("IF(a > 0, SUM([b, c]) / d, FILL(e, REPEAT))")
    assert metric_math.references(tree) == {"a", "b", "c", "d", "e"}
    assert metric_math.uses_metrics(metric_math.parse("2 * SUM(METRICS())"))
    assert not metric_math.uses_metrics(tree)
