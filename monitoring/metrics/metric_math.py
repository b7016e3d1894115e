"""CloudWatch metric math: a parser and evaluator for ``MetricDataQuery.Expression``.

A plain library (no Django): :func:`parse` turns an expression into a tree (a recursive
descent parser, never ``eval``), :func:`evaluate` computes it against a :class:`Context`
that supplies the other queries' series. Bounded for hostile input: at most
:data:`MAX_LENGTH` characters (AWS's limit) and :data:`MAX_DEPTH` levels of nesting, checked
while parsing, so neither the parser nor the evaluator can recurse deeper.

Values are scalars, time series (one value per period start, missing periods absent) and
arrays of time series. As CloudWatch does: arithmetic applies point by point to the
timestamps both series have (and to each series of an array); a scalar applies to every
point; comparisons and logical operators give 1 or 0; SUM/AVG/MIN/MAX/STDDEV of one series
give a scalar and of an array a series; a result that is not a finite number (``1/0``) drops
that point and is reported (``ArithmeticError``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_LENGTH = 2048
MAX_DEPTH = 32
# Long chains (``a+b+c+...``) nest the tree without nesting the text: bounded too, so the
# evaluator's recursion stays far from the interpreter's limit.
MAX_HEIGHT = 128

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<string>"[^"]*"|'[^']*')
    | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/^()<>,\[\]!])
    )""",
    re.VERBOSE,
)
ID_PATTERN = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_KEYWORDS = {"REPEAT", "LINEAR"}
_WORD_OPERATORS = {"AND": "&&", "OR": "||", "NOT": "!"}


class MathError(ValueError):
    """An expression that cannot be parsed or evaluated; the message says why."""


# ---- the tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Keyword:
    name: str


@dataclass(frozen=True)
class Reference:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]


Node = Number | Text | Keyword | Reference | Call | Unary | Binary | Array


def references(node: Node) -> set[str]:
    """The query Ids an expression names (for ordering and cycle checks)."""
    found: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Reference):
            found.add(current.name)
        elif isinstance(current, Call | Array):
            stack.extend(current.args if isinstance(current, Call) else current.items)
        elif isinstance(current, Unary):
            stack.append(current.operand)
        elif isinstance(current, Binary):
            stack.extend((current.left, current.right))
    return found


def uses_metrics(node: Node) -> bool:
    """Whether the expression calls METRICS() (which depends on every metric query)."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Call):
            if current.name == "METRICS":
                return True
            stack.extend(current.args)
        elif isinstance(current, Array):
            stack.extend(current.items)
        elif isinstance(current, Unary):
            stack.append(current.operand)
        elif isinstance(current, Binary):
            stack.extend((current.left, current.right))
    return False


# ---- parsing -----------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # number, name, string, op, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            tokens.append(_Token("end", "", pos))
            return tokens
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise MathError(f"Syntax error at position {pos + 1}: unexpected {text[pos]!r}")
        kind = match.lastgroup or "op"
        value = match.group(kind)
        tokens.append(_Token(kind, value, match.start(kind)))
        pos = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0
        self.heights: dict[int, int] = {}

    def _built(self, node: Node, *children: Node) -> Node:
        height = 1 + max((self.heights.get(id(child), 1) for child in children), default=0)
        if height > MAX_HEIGHT:
            raise MathError(f"The expression has more than {MAX_HEIGHT} nested operations")
        self.heights[id(node)] = height
        return node

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _is(self, *ops: str) -> str | None:
        token = self.current
        if token.kind == "op" and token.text in ops:
            return token.text
        if token.kind == "name" and _WORD_OPERATORS.get(token.text) in ops:
            return _WORD_OPERATORS[token.text]
        return None

    def _advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def _expect(self, op: str) -> None:
        if self._is(op) is None:
            raise self._unexpected(f"expected {op!r}")
        self._advance()

    def _unexpected(self, wanted: str) -> MathError:
        token = self.current
        seen = "the end of the expression" if token.kind == "end" else repr(token.text)
        return MathError(f"Syntax error at position {token.at + 1}: {wanted}, found {seen}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MathError(f"The expression nests deeper than {MAX_DEPTH} levels")

    def parse(self) -> Node:
        node = self.logical_or()
        if self.current.kind != "end":
            raise self._unexpected("expected an operator")
        return node

    def logical_or(self) -> Node:
        node = self.logical_and()
        while self._is("||"):
            self._advance()
            right = self.logical_and()
            node = self._built(Binary("||", node, right), node, right)
        return node

    def logical_and(self) -> Node:
        node = self.comparison()
        while self._is("&&"):
            self._advance()
            right = self.comparison()
            node = self._built(Binary("&&", node, right), node, right)
        return node

    def comparison(self) -> Node:
        node = self.additive()
        op = self._is("==", "!=", "<=", ">=", "<", ">")
        if op is not None:
            self._advance()
            right = self.additive()
            node = self._built(Binary(op, node, right), node, right)
            if self._is("==", "!=", "<=", ">=", "<", ">"):
                raise self._unexpected("comparisons cannot be chained")
        return node

    def additive(self) -> Node:
        node = self.term()
        while (op := self._is("+", "-")) is not None:
            self._advance()
            right = self.term()
            node = self._built(Binary(op, node, right), node, right)
        return node

    def term(self) -> Node:
        node = self.unary()
        while (op := self._is("*", "/")) is not None:
            self._advance()
            right = self.unary()
            node = self._built(Binary(op, node, right), node, right)
        return node

    def unary(self) -> Node:
        op = self._is("-", "+", "!")
        if op is None:
            return self.power()
        self._advance()
        self._enter()
        try:
            operand = self.unary()
            return self._built(Unary(op, operand), operand)
        finally:
            self.depth -= 1

    def power(self) -> Node:
        node = self.primary()
        if self._is("^"):
            self._advance()
            self._enter()
            try:
                # Right-associative, and binds tighter than a unary minus on its left.
                right = self.unary()
                node = self._built(Binary("^", node, right), node, right)
            finally:
                self.depth -= 1
        return node

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self._advance()
            value = float(token.text)
            if not math.isfinite(value):
                raise MathError(f"The number {token.text[:20]} is out of range")
            return Number(value)
        if token.kind == "string":
            self._advance()
            return Text(token.text[1:-1])
        if self._is("("):
            self._advance()
            self._enter()
            try:
                node = self.logical_or()
            finally:
                self.depth -= 1
            self._expect(")")
            return node
        if self._is("["):
            self._advance()
            self._enter()
            try:
                items = self._list("]")
            finally:
                self.depth -= 1
            return self._built(Array(items), *items)
        if token.kind == "name" and token.text not in _WORD_OPERATORS:
            self._advance()
            if self._is("("):
                self._advance()
                self._enter()
                try:
                    args = self._list(")")
                finally:
                    self.depth -= 1
                return self._built(Call(token.text.upper(), args), *args)
            if token.text in _KEYWORDS:
                return Keyword(token.text)
            if not ID_PATTERN.match(token.text):
                raise MathError(
                    f"Unrecognized identifier {token.text!r}: a query Id starts with a "
                    "lowercase letter"
                )
            return Reference(token.text)
        raise self._unexpected("expected a number, an Id, a function or '('")

    def _list(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self._is(closing):
            self._advance()
            return ()
        while True:
            items.append(self.logical_or())
            if self._is(","):
                self._advance()
                continue
            self._expect(closing)
            return tuple(items)


def parse(text: str) -> Node:
    """The tree of ``text``; raises :class:`MathError`."""
    if not text.strip():
        raise MathError("The expression is empty")
    if len(text) > MAX_LENGTH:
        raise MathError(f"The expression is longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


# ---- values ------------------------------------------------------------------------------


@dataclass
class Series:
    """A time series: period-start epoch seconds -> value, ascending, missing periods absent."""

    label: str
    period: int
    points: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scalar:
    value: float


@dataclass(frozen=True)
class SeriesArray:
    items: tuple[Series, ...]


Value = Scalar | Series | SeriesArray | Text | Keyword


class Context(Protocol):
    """What an expression is evaluated against (see ``metric_data``)."""

    def reference(self, name: str) -> Scalar | Series | SeriesArray:
        """The value of another query by its Id; raises MathError for an unknown one."""

    def metrics(self) -> Sequence[tuple[str, Series]]:
        """Every metric (not expression) query of the request, with its Id, in order."""

    def period_of(self, name: str) -> int | None:
        """The Period of the metric query ``name`` (None for an expression)."""

    def grid(self, period: int | None) -> range:
        """Every period start of the queried window at ``period`` (None: the request's
        default period), for filling and for results that are constants."""

    def arithmetic_error(self) -> None:
        """Note that points were dropped for not being finite numbers."""


# ---- evaluation --------------------------------------------------------------------------


def _finite(context: Context, points: Iterable[tuple[int, float]]) -> dict[int, float]:
    kept: dict[int, float] = {}
    dropped = False
    for timestamp, value in points:
        if math.isfinite(value):
            kept[timestamp] = value
        else:
            dropped = True
    if dropped:
        context.arithmetic_error()
    return kept


def _safe(function: Callable[..., float]) -> Callable[..., float]:
    """Domain errors and overflows become NaN, which is then dropped and reported."""

    def wrapped(*args: float) -> float:
        try:
            return function(*args)
        except (ArithmeticError, ValueError):
            return math.nan

    return wrapped


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


def _power(a: float, b: float) -> float:
    result = a**b
    return result if isinstance(result, float) else math.nan  # a complex root


_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _safe(_divide),
    "^": _safe(_power),
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(bool(a) and bool(b)),
    "||": lambda a, b: float(bool(a) or bool(b)),
}
_UNARY: dict[str, Callable[[float], float]] = {
    "-": lambda a: -a,
    "+": lambda a: a,
    "!": lambda a: float(not a),
}
# Every function an expression may call (besides the pointwise ones below).
FUNCTIONS = frozenset(
    {
        "SUM", "AVG", "MIN", "MAX", "STDDEV", "DIFF", "DIFF_TIME", "RATE", "RUNNING_SUM",
        "EPOCH", "DATAPOINT_COUNT", "FILL", "IF", "METRICS", "METRIC_COUNT", "FIRST", "LAST",
        "REMOVE_EMPTY", "PERIOD", "TIME_SERIES",
    }
)  # fmt: skip
_POINTWISE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": _safe(lambda v: float(math.ceil(v))),
    "FLOOR": _safe(lambda v: float(math.floor(v))),
    "LOG": _safe(math.log),
    "LOG10": _safe(math.log10),
    "SQRT": _safe(math.sqrt),
}


def _numeric(value: Value, what: str) -> Scalar | Series | SeriesArray:
    if isinstance(value, Text | Keyword):
        raise MathError(f"{what} expects a number or a time series, not {_shown(value)}")
    return value


def _shown(value: Value) -> str:
    if isinstance(value, Text):
        return f'the string "{value.value}"'
    if isinstance(value, Keyword):
        return value.name
    return type(value).__name__


def _map1(
    value: Scalar | Series | SeriesArray, function: Callable[[float], float], context: Context
) -> Scalar | Series | SeriesArray:
    if isinstance(value, Scalar):
        result = function(value.value)
        if not math.isfinite(result):
            context.arithmetic_error()
            result = math.nan
        return Scalar(result)
    if isinstance(value, Series):
        points = _finite(context, ((ts, function(v)) for ts, v in value.points.items()))
        return Series(value.label, value.period, points)
    return SeriesArray(tuple(_as_series(_map1(s, function, context)) for s in value.items))


def _as_series(value: Scalar | Series | SeriesArray) -> Series:
    assert isinstance(value, Series)
    return value


def _combine(
    op: str,
    left: Scalar | Series | SeriesArray,
    right: Scalar | Series | SeriesArray,
    context: Context,
) -> Scalar | Series | SeriesArray:
    function = _BINARY[op]
    if isinstance(left, SeriesArray) and isinstance(right, SeriesArray):
        raise MathError(f"The operator {op} cannot combine two arrays of time series")
    if isinstance(left, SeriesArray):
        return SeriesArray(tuple(_as_series(_combine(op, s, right, context)) for s in left.items))
    if isinstance(right, SeriesArray):
        return SeriesArray(tuple(_as_series(_combine(op, left, s, context)) for s in right.items))
    if isinstance(left, Scalar) and isinstance(right, Scalar):
        result = function(left.value, right.value)
        if not math.isfinite(result):
            context.arithmetic_error()
        return Scalar(result)
    if isinstance(left, Series) and isinstance(right, Scalar):
        b = right.value
        points = _finite(context, ((ts, function(v, b)) for ts, v in left.points.items()))
        return Series(left.label, left.period, points)
    if isinstance(left, Scalar) and isinstance(right, Series):
        a = left.value
        points = _finite(context, ((ts, function(a, v)) for ts, v in right.points.items()))
        return Series(right.label, right.period, points)
    assert isinstance(left, Series) and isinstance(right, Series)
    other = right.points
    points = _finite(
        context, ((ts, function(v, other[ts])) for ts, v in left.points.items() if ts in other)
    )
    return Series(left.label, min(left.period, right.period), points)


def _aggregate(values: list[float], how: str) -> float:
    if how == "SUM":
        return math.fsum(values)
    if how == "AVG":
        return math.fsum(values) / len(values)
    if how == "MIN":
        return min(values)
    if how == "MAX":
        return max(values)
    # STDDEV: the population standard deviation, as CloudWatch's
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


class _Evaluator:
    def __init__(self, context: Context) -> None:
        self.context = context

    def value(self, node: Node) -> Value:
        if isinstance(node, Number):
            return Scalar(node.value)
        if isinstance(node, Text):
            return node
        if isinstance(node, Keyword):
            return node
        if isinstance(node, Reference):
            return self.context.reference(node.name)
        if isinstance(node, Unary):
            operand = _numeric(self.value(node.operand), f"The operator {node.op}")
            return _map1(operand, _UNARY[node.op], self.context)
        if isinstance(node, Binary):
            left = _numeric(self.value(node.left), f"The operator {node.op}")
            right = _numeric(self.value(node.right), f"The operator {node.op}")
            return _combine(node.op, left, right, self.context)
        if isinstance(node, Array):
            return SeriesArray(tuple(self._flatten(node.items, "An array")))
        return self.call(node)

    def _flatten(self, nodes: Iterable[Node], what: str) -> list[Series]:
        found: list[Series] = []
        for item in nodes:
            value = self.value(item)
            if isinstance(value, Series):
                found.append(value)
            elif isinstance(value, SeriesArray):
                found.extend(value.items)
            else:
                raise MathError(f"{what} holds only time series, not {_shown(value)}")
        return found

    def _series_arg(self, node: Node, function: str) -> Series | SeriesArray:
        value = self.value(node)
        if not isinstance(value, Series | SeriesArray):
            raise MathError(f"{function} expects a time series, not {_shown(value)}")
        return value

    def _arity(self, call: Call, low: int, high: int) -> None:
        if not low <= len(call.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise MathError(
                f"{call.name} takes {wanted} argument{'s' if high != 1 else ''}, "
                f"{len(call.args)} given"
            )

    def call(self, call: Call) -> Value:
        name = call.name
        handler = getattr(self, f"_fn_{name.lower()}") if name in FUNCTIONS else None
        if name in _POINTWISE:
            self._arity(call, 1, 1)
            value = _numeric(self.value(call.args[0]), name)
            return _map1(value, _POINTWISE[name], self.context)
        if handler is None:
            raise MathError(f"Unrecognized function: {name}")
        result: Value = handler(call)
        return result

    # -- aggregations: one series -> scalar, an array -> a series

    def _aggregation(self, call: Call) -> Value:
        if len(call.args) != 1:
            items = self._flatten(call.args, call.name) if call.args else []
            if not items:
                self._arity(call, 1, 1)
            value: Series | SeriesArray = SeriesArray(tuple(items))
        else:
            value = self._series_arg(call.args[0], call.name)
        if isinstance(value, Series):
            values = list(value.points.values())
            if not values:
                return Scalar(math.nan)
            return Scalar(_aggregate(values, call.name))
        if not value.items:
            return Series(call.name, self.context.grid(None).step, {})
        by_time: dict[int, list[float]] = {}
        for series in value.items:
            for timestamp, point in series.points.items():
                by_time.setdefault(timestamp, []).append(point)
        points = {ts: _aggregate(by_time[ts], call.name) for ts in sorted(by_time)}
        period = min(series.period for series in value.items)
        return Series(call.name, period, _finite(self.context, points.items()))

    _fn_sum = _aggregation
    _fn_avg = _aggregation
    _fn_min = _aggregation
    _fn_max = _aggregation
    _fn_stddev = _aggregation

    # -- functions of one series, applied to each series of an array

    def _per_series(self, call: Call, function: Callable[[Series], Series]) -> Value:
        self._arity(call, 1, 1)
        value = self._series_arg(call.args[0], call.name)
        if isinstance(value, Series):
            return function(value)
        return SeriesArray(tuple(function(series) for series in value.items))

    def _fn_diff(self, call: Call) -> Value:
        def diff(series: Series) -> Series:
            items = list(series.points.items())
            points = {ts: v - items[i][1] for i, (ts, v) in enumerate(items[1:])}
            return Series(series.label, series.period, points)

        return self._per_series(call, diff)

    def _fn_diff_time(self, call: Call) -> Value:
        def diff_time(series: Series) -> Series:
            times = list(series.points)
            points = {ts: float(ts - times[i]) for i, ts in enumerate(times[1:])}
            return Series(series.label, series.period, points)

        return self._per_series(call, diff_time)

    def _fn_rate(self, call: Call) -> Value:
        def rate(series: Series) -> Series:
            items = list(series.points.items())
            points = {
                ts: (v - items[i][1]) / (ts - items[i][0]) for i, (ts, v) in enumerate(items[1:])
            }
            return Series(series.label, series.period, points)

        return self._per_series(call, rate)

    def _fn_running_sum(self, call: Call) -> Value:
        def running(series: Series) -> Series:
            total, points = 0.0, {}
            for ts, v in series.points.items():
                total += v
                points[ts] = total
            return Series(series.label, series.period, _finite(self.context, points.items()))

        return self._per_series(call, running)

    def _fn_epoch(self, call: Call) -> Value:
        return self._per_series(
            call,
            lambda s: Series(s.label, s.period, {ts: float(ts) for ts in s.points}),
        )

    def _fn_datapoint_count(self, call: Call) -> Value:
        self._arity(call, 1, 1)
        value = self._series_arg(call.args[0], call.name)
        if isinstance(value, Series):
            return Scalar(float(len(value.points)))
        return SeriesArray(
            tuple(
                Series(s.label, s.period, dict.fromkeys(s.points, float(len(s.points))))
                for s in value.items
            )
        )

    def _fn_fill(self, call: Call) -> Value:
        self._arity(call, 2, 2)
        value = self._series_arg(call.args[0], call.name)
        how = self.value(call.args[1])
        if isinstance(how, Text | SeriesArray):
            raise MathError(
                f"FILL's second argument is a number, a time series, REPEAT or LINEAR, "
                f"not {_shown(how)}"
            )

        def fill(series: Series) -> Series:
            grid = self.context.grid(series.period)
            known = series.points
            points: dict[int, float] = {}
            if isinstance(how, Keyword) and how.name == "REPEAT":
                last: float | None = None
                for ts in grid:
                    if ts in known:
                        last = known[ts]
                    if last is not None:
                        points[ts] = last
                    elif known:
                        points[ts] = next(iter(known.values()))  # leading gap: first value
            elif isinstance(how, Keyword):  # LINEAR: between known points only
                times = [ts for ts in grid if ts in known]
                for ts in grid:
                    if ts in known:
                        points[ts] = known[ts]
                for before, after in itertools.pairwise(times):
                    slope = (known[after] - known[before]) / (after - before)
                    for ts in range(before + series.period, after, series.period):
                        points[ts] = known[before] + slope * (ts - before)
                points = dict(sorted(points.items()))
            elif isinstance(how, Scalar):
                points = {ts: known.get(ts, how.value) for ts in grid}
            else:  # a series: its value at the missing timestamp
                points = {
                    ts: known[ts] if ts in known else how.points[ts]
                    for ts in grid
                    if ts in known or ts in how.points
                }
            return Series(series.label, series.period, points)

        if isinstance(value, Series):
            return fill(value)
        return SeriesArray(tuple(fill(series) for series in value.items))

    def _fn_if(self, call: Call) -> Value:
        self._arity(call, 2, 3)
        condition = _numeric(self.value(call.args[0]), "IF")
        then = _numeric(self.value(call.args[1]), "IF")
        otherwise = _numeric(self.value(call.args[2]), "IF") if len(call.args) == 3 else None
        if isinstance(condition, SeriesArray):
            return SeriesArray(tuple(self._if(c, then, otherwise, call) for c in condition.items))
        if isinstance(condition, Scalar):
            chosen = then if condition.value else otherwise
            if chosen is None:
                return Series("IF", self.context.grid(None).step, {})
            return chosen
        return self._if(condition, then, otherwise, call)

    def _if(
        self,
        condition: Series,
        then: Scalar | Series | SeriesArray,
        otherwise: Scalar | Series | SeriesArray | None,
        call: Call,
    ) -> Series:
        if isinstance(then, SeriesArray) or isinstance(otherwise, SeriesArray):
            raise MathError("IF's values must be numbers or single time series")

        def at(value: Scalar | Series | None, ts: int) -> float | None:
            if value is None:
                return None
            if isinstance(value, Scalar):
                return value.value
            return value.points.get(ts)

        points: dict[int, float] = {}
        for ts, flag in condition.points.items():
            chosen = at(then, ts) if flag else at(otherwise, ts)
            if chosen is not None:
                points[ts] = chosen
        label = then.label if isinstance(then, Series) else condition.label
        return Series(label, condition.period, _finite(self.context, points.items()))

    # -- arrays and the request

    def _fn_metrics(self, call: Call) -> Value:
        self._arity(call, 0, 1)
        contains = ""
        if call.args:
            text = self.value(call.args[0])
            if not isinstance(text, Text):
                raise MathError(f"METRICS expects a string, not {_shown(text)}")
            contains = text.value
        return SeriesArray(
            tuple(series for name, series in self.context.metrics() if contains in name)
        )

    def _fn_metric_count(self, call: Call) -> Value:
        self._arity(call, 1, 1)
        value = self._series_arg(call.args[0], call.name)
        return Scalar(1.0 if isinstance(value, Series) else float(len(value.items)))

    def _pick(self, call: Call, index: int) -> Value:
        self._arity(call, 1, 1)
        value = self._series_arg(call.args[0], call.name)
        if isinstance(value, Series):
            return value
        if not value.items:
            raise MathError(f"{call.name} of an empty array")
        return value.items[index]

    def _fn_first(self, call: Call) -> Value:
        return self._pick(call, 0)

    def _fn_last(self, call: Call) -> Value:
        return self._pick(call, -1)

    def _fn_remove_empty(self, call: Call) -> Value:
        self._arity(call, 1, 1)
        value = self._series_arg(call.args[0], call.name)
        if isinstance(value, Series):
            return value
        return SeriesArray(tuple(series for series in value.items if series.points))

    def _fn_period(self, call: Call) -> Value:
        self._arity(call, 1, 1)
        arg = call.args[0]
        if isinstance(arg, Reference):
            period = self.context.period_of(arg.name)
            if period is not None:
                return Scalar(float(period))
        value = self._series_arg(arg, call.name)
        first = value if isinstance(value, Series) else (value.items or (None,))[0]
        if first is None:
            raise MathError("PERIOD of an empty array")
        return Scalar(float(first.period))

    def _fn_time_series(self, call: Call) -> Value:
        self._arity(call, 1, 1)
        value = self.value(call.args[0])
        if not isinstance(value, Scalar):
            raise MathError(f"TIME_SERIES expects a number, not {_shown(value)}")
        grid = self.context.grid(None)
        if not math.isfinite(value.value):
            return Series("TIME_SERIES", grid.step, {})
        return Series("TIME_SERIES", grid.step, dict.fromkeys(grid, value.value))


def evaluate(node: Node, context: Context) -> Scalar | Series | SeriesArray:
    """The value of an expression tree; raises :class:`MathError`."""
    value = _Evaluator(context).value(node)
    if isinstance(value, Text | Keyword):
        raise MathError(f"The expression gives {_shown(value)}, not a time series")
    return value
