"""The CloudWatch Logs Insights query language (the subset Functory runs): tokenizer,
parser and syntax tree.

A query is commands separated by ``|``: ``fields``, ``display``, ``filter``, ``stats``,
``sort``, ``limit``, ``parse``; ``#`` starts a comment. Expressions have ``or`` < ``and``
< ``not`` < comparisons (``= != < <= > >=``, ``like``/``not like``/``=~`` with a string or a
``/regex/``, ``in``/``not in`` a list) < ``+ -`` < ``* / %`` < unary minus < literals,
fields and function calls. The parser is a plain recursive descent one, bounded in tokens
and nesting depth: a hostile query fails with :class:`QuerySyntaxError`, never deeper
recursion than ``MAX_DEPTH``. Regular expressions are compiled with the ``regex`` module
(which has ``(?<name>…)`` groups as AWS writes them and a timeout for every match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import regex

MAX_QUERY_CHARS = 10_000  # the model's bound on queryString
MAX_TOKENS = 4_000
MAX_DEPTH = 32
# Operators in a chain (a + b + c ...) nest the tree without nesting the parser: bounded
# separately, so evaluating never recurses deeper than this.
MAX_TREE_DEPTH = 200
MAX_COMMANDS = 50
MAX_REGEX_CHARS = 1_000
# The regex module expands counted repetitions when it compiles: ((a{1000}){1000}){1000}
# would take gigabytes before any match could time out. Patterns are refused past this size.
MAX_REGEX_SIZE = 10_000

COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse")
_EXPECTED_COMMAND = "{" + ", ".join(f"K_{name.upper()}" for name in COMMANDS) + "}"

# Duration units of bin(): milliseconds each.
UNITS = {
    "ms": 1,
    "s": 1_000,
    "sec": 1_000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}

AGGREGATES = {"count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev"}
# Scalar functions: name -> (min args, max args).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "ispresent": (1, 1),
    "isempty": (1, 1),
    "isblank": (1, 1),
    "strlen": (1, 1),
    "toupper": (1, 1),
    "tolower": (1, 1),
    "trim": (1, 1),
    "concat": (1, 16),
    "substr": (2, 3),
    "replace": (3, 3),
    "strcontains": (2, 2),
    "abs": (1, 1),
    "ceil": (1, 1),
    "floor": (1, 1),
    "greatest": (1, 16),
    "least": (1, 16),
    "coalesce": (1, 16),
    "bin": (1, 1),
    "datefloor": (2, 2),
    "dateceil": (2, 2),
    "tostring": (1, 1),
    "tonumber": (1, 1),
}


class QuerySyntaxError(Exception):
    """A query that does not compile: AWS's message and the characters it is about."""

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


# ---- tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # NAME FIELD NUMBER DURATION STRING REGEX OP EOF
    text: str  # the value (a string's contents, a regex's pattern, an operator)
    start: int
    end: int
    flags: str = ""


_NAME = re.compile(r"@?[A-Za-z_][A-Za-z0-9_.@$]*")
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?([A-Za-z]+)?")
_OPERATORS = ("=~", "==", "!=", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "%", "(", ")")
_PUNCT = {"|", ",", "[", "]"}
# After these, a ``/`` opens a regular expression rather than dividing.
_REGEX_AFTER_WORDS = {"like", "parse", "filter", "and", "or", "not", "in"}


def _position(query: str, offset: int) -> str:
    line = query.count("\n", 0, offset) + 1
    column = offset - (query.rfind("\n", 0, offset) + 1)
    return f"at line {line} and position {column}"


def tokenize(query: str) -> list[Token]:
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"Query is longer than {MAX_QUERY_CHARS} characters.")
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":
            newline = query.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise QuerySyntaxError(f"Query has more than {MAX_TOKENS} tokens.", i, i + 1)
        if char in "\"'":
            tokens.append(_string(query, i))
        elif char == "`":
            close = query.find("`", i + 1)
            if close < 0 or close == i + 1:
                raise QuerySyntaxError(f"token recognition error {_position(query, i)}", i, n)
            tokens.append(Token("FIELD", query[i + 1 : close], i, close + 1))
        elif char == "/" and _regex_allowed(tokens):
            tokens.append(_regex(query, i))
        elif char.isdigit() or (char == "." and i + 1 < n and query[i + 1].isdigit()):
            match = _NUMBER.match(query, i)
            assert match is not None
            number, unit = match.group(1), match.group(2)
            if unit is not None:
                if unit.lower() not in UNITS:
                    raise QuerySyntaxError(
                        f"extraneous input '{unit}' {_position(query, i + len(number))}",
                        i,
                        match.end(),
                    )
                tokens.append(Token("DURATION", match.group(0), i, match.end()))
            else:
                tokens.append(Token("NUMBER", match.group(0), i, match.end()))
        else:
            match = _NAME.match(query, i)
            if match is not None:
                tokens.append(Token("NAME", match.group(0), i, match.end()))
            else:
                for op in _OPERATORS:
                    if query.startswith(op, i):
                        tokens.append(Token("OP", op, i, i + len(op)))
                        break
                else:
                    if char not in _PUNCT:
                        raise QuerySyntaxError(
                            f"token recognition error at: '{char}' {_position(query, i)}",
                            i,
                            i + 1,
                        )
                    tokens.append(Token("OP", char, i, i + 1))
        i = tokens[-1].end
    tokens.append(Token("EOF", "<EOF>", n, n))
    return tokens


def _regex_allowed(tokens: list[Token]) -> bool:
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "OP":
        return last.text != ")"
    if last.kind == "NAME" and last.text.lower() in _REGEX_AFTER_WORDS:
        return True
    # parse @message /.../ : a field right after the parse command.
    return (
        len(tokens) >= 2
        and last.kind in ("NAME", "FIELD")
        and tokens[-2].kind == "NAME"
        and tokens[-2].text.lower() == "parse"
    )


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _string(query: str, start: int) -> Token:
    quote = query[start]
    out: list[str] = []
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            following = query[i + 1]
            out.append(_ESCAPES.get(following, "\\" + following))
            i += 2
            continue
        if char == quote:
            return Token("STRING", "".join(out), start, i + 1)
        out.append(char)
        i += 1
    raise QuerySyntaxError(
        f"token recognition error at: '{query[start : start + 20]}' {_position(query, start)}",
        start,
        len(query),
    )


def _regex(query: str, start: int) -> Token:
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\":
            i += 2
            continue
        if char == "/":
            end = i + 1
            flags = ""
            while end < len(query) and query[end] in "imsx":
                flags += query[end]
                end += 1
            return Token("REGEX", query[start + 1 : i], start, end, flags)
        if char == "\n":
            break
        i += 1
    raise QuerySyntaxError(
        f"token recognition error at: '{query[start : start + 20]}' {_position(query, start)}",
        start,
        len(query),
    )


# ---- the syntax tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Regex:
    source: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class Duration:
    ms: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    star: bool = False  # count(*)


@dataclass(frozen=True)
class Unary:
    op: str  # "not" | "-"
    operand: Any


@dataclass(frozen=True)
class Binary:
    op: str  # and or = != < <= > >= + - * / %
    left: Any
    right: Any


@dataclass(frozen=True)
class Like:
    operand: Any
    pattern: Any  # Literal(str) or Regex
    negate: bool = False


@dataclass(frozen=True)
class In:
    operand: Any
    values: tuple[Any, ...]
    negate: bool = False


Expr = Literal | Field | Regex | Duration | Call | Unary | Binary | Like | In


@dataclass(frozen=True)
class Named:
    """An expression and the name its value gets in the results (``as`` or its text)."""

    expr: Any
    name: str


@dataclass(frozen=True)
class FieldsCommand:
    items: tuple[Named, ...]


@dataclass(frozen=True)
class DisplayCommand:
    items: tuple[Named, ...]


@dataclass(frozen=True)
class FilterCommand:
    condition: Any


@dataclass(frozen=True)
class StatsCommand:
    aggregates: tuple[Named, ...]
    by: tuple[Named, ...]


@dataclass(frozen=True)
class SortCommand:
    keys: tuple[tuple[Any, bool], ...]  # (expression, descending)


@dataclass(frozen=True)
class LimitCommand:
    count: int


@dataclass(frozen=True)
class ParseCommand:
    source: Any  # the field parsed
    pattern: Any  # compiled regex
    names: tuple[str, ...]


Command = (
    FieldsCommand
    | DisplayCommand
    | FilterCommand
    | StatsCommand
    | SortCommand
    | LimitCommand
    | ParseCommand
)


@dataclass(frozen=True)
class Query:
    commands: tuple[Any, ...]


# ---- the parser -----------------------------------------------------------------------


def compile_regex(source: str, flags: str = "", start: int = 0, end: int = 0) -> Any:
    if len(source) > MAX_REGEX_CHARS:
        raise QuerySyntaxError(
            f"Regular expression is longer than {MAX_REGEX_CHARS} characters.", start, end
        )
    if _expanded_size(source) > MAX_REGEX_SIZE:
        raise QuerySyntaxError(
            f"Regular expression /{source}/ repeats too much (at most {MAX_REGEX_SIZE} "
            "characters once its counted repetitions are expanded)",
            start,
            end,
        )
    options = regex.VERSION0
    for flag, value in (("i", regex.IGNORECASE), ("m", regex.MULTILINE), ("s", regex.DOTALL)):
        if flag in flags:
            options |= value
    try:
        return regex.compile(source, options)
    except (regex.error, OverflowError, RecursionError, ValueError) as error:
        raise QuerySyntaxError(
            f"Invalid regular expression /{source}/: {error}", start, end
        ) from None


_QUANTIFIER = re.compile(r"\{(\d{1,9})(?:(,)(\d{0,9}))?\}")


def _expanded_size(source: str) -> int:
    """About how many items ``source`` compiles to with its ``{n,m}`` repetitions expanded:
    atoms count one, a group its contents, a counted repetition multiplies by its bound."""
    stack = [0]
    last = 0  # the weight of the atom or group just read (what a quantifier repeats)
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\":
            i += 2
            stack[-1] += 1
            last = 1
            continue
        if char == "[":
            i += 1
            if i < n and source[i] == "^":
                i += 1
            if i < n and source[i] == "]":
                i += 1
            while i < n and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
            i += 1
            stack[-1] += 1
            last = 1
            continue
        if char == "(":
            stack.append(0)
            i += 1
            continue
        if char == ")" and len(stack) > 1:
            last = max(stack.pop(), 1)
            stack[-1] += last
            i += 1
            continue
        if char == "{":
            match = _QUANTIFIER.match(source, i)
            if match is not None:
                low = int(match.group(1))
                high = match.group(3)
                bound = int(high) if high else (low + 1 if match.group(2) else low)
                stack[-1] += last * max(bound - 1, 0)
                last = last * max(bound, 1)
                i = match.end()
                continue
        stack[-1] += 1
        last = 1
        i += 1
    return sum(stack)


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0

    # -- helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "EOF":
            self.i += 1
        return token

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "OP" and self.token.text in ops

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "NAME" and self.token.text.lower() in words

    def error(self, expecting: str | None = None, token: Token | None = None) -> QuerySyntaxError:
        token = token or self.token
        where = _position(self.query, token.start)
        if expecting:
            message = f"mismatched input '{token.text}' expecting {expecting}"
        elif token.kind == "EOF":
            message = "mismatched input '<EOF>'"
        else:
            message = f"extraneous input '{self.query[token.start : token.end]}'"
        return QuerySyntaxError(f"{message} {where}", token.start, max(token.end, token.start))

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.error(f"'{op}'")
        return self.advance()

    def text(self, start: int) -> str:
        """The query's text from ``start`` to the end of the last token read."""
        return self.query[start : self.tokens[self.i - 1].end].strip()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            token = self.token
            raise QuerySyntaxError(
                f"Query is nested more than {MAX_DEPTH} levels deep "
                f"{_position(self.query, token.start)}",
                token.start,
                token.end,
            )

    # -- commands

    def parse(self) -> Query:
        commands: list[Any] = []
        if self.token.kind == "EOF":
            raise self.error(_EXPECTED_COMMAND)
        while True:
            commands.append(self.command())
            if len(commands) > MAX_COMMANDS:
                raise QuerySyntaxError(f"Query has more than {MAX_COMMANDS} commands.")
            if self.token.kind == "EOF":
                break
            if not self.is_op("|"):
                raise self.error("{<EOF>, '|'}" if not self.is_op(",") else None)
            self.advance()
        self.check(commands)
        return Query(tuple(commands))

    def check(self, commands: list[Any]) -> None:
        stats = [c for c in commands if isinstance(c, StatsCommand)]
        if len(stats) > 2:
            raise QuerySyntaxError("Query can have at most two stats commands.")

    def command(self) -> Any:
        token = self.token
        if token.kind != "NAME" or token.text.lower() not in COMMANDS:
            raise self.error(_EXPECTED_COMMAND)
        name = self.advance().text.lower()
        if name == "fields":
            return FieldsCommand(self.named_list())
        if name == "display":
            return DisplayCommand(self.named_list())
        if name == "filter":
            return FilterCommand(self.expression())
        if name == "stats":
            return self.stats()
        if name == "sort":
            return self.sort()
        if name == "limit":
            number = self.token
            if number.kind != "NUMBER" or not number.text.isdigit():
                raise self.error("INTEGER")
            self.advance()
            count = int(number.text)
            if not 1 <= count <= 10_000:
                raise QuerySyntaxError(
                    "Limit must be between 1 and 10000", number.start, number.end
                )
            return LimitCommand(count)
        return self.parse_command()

    def named_list(self) -> tuple[Named, ...]:
        items = [self.named()]
        while self.is_op(","):
            self.advance()
            items.append(self.named())
        return tuple(items)

    def named(self, aggregate: bool = False) -> Named:
        start = self.token.start
        expr = self.expression()
        text = self.text(start)
        if aggregate and not _has_aggregate(expr):
            raise QuerySyntaxError(
                f"Expression '{text}' in stats is not an aggregate function "
                f"{_position(self.query, start)}",
                start,
                start + len(text),
            )
        if not aggregate and _has_aggregate(expr):
            raise QuerySyntaxError(
                f"Aggregate function in '{text}' is only allowed in stats "
                f"{_position(self.query, start)}",
                start,
                start + len(text),
            )
        if self.is_word("as"):
            self.advance()
            alias = self.token
            if alias.kind not in ("NAME", "FIELD"):
                raise self.error("IDENTIFIER")
            self.advance()
            return Named(expr, alias.text)
        if isinstance(expr, Field):
            return Named(expr, expr.name)
        return Named(expr, text)

    def stats(self) -> StatsCommand:
        aggregates = [self.named(aggregate=True)]
        while self.is_op(","):
            self.advance()
            aggregates.append(self.named(aggregate=True))
        by: tuple[Named, ...] = ()
        if self.is_word("by"):
            self.advance()
            by = self.named_list()
        return StatsCommand(tuple(aggregates), by)

    def sort(self) -> SortCommand:
        keys: list[tuple[Any, bool]] = []
        while True:
            expr = self.expression()
            descending = True  # AWS sorts descending unless told asc
            if self.is_word("asc"):
                self.advance()
                descending = False
            elif self.is_word("desc"):
                self.advance()
            keys.append((expr, descending))
            if not self.is_op(","):
                return SortCommand(tuple(keys))
            self.advance()

    def parse_command(self) -> ParseCommand:
        source: Any = Field("@message")
        if self.token.kind in ("NAME", "FIELD") and not self.is_word("as"):
            source = Field(self.advance().text)
        token = self.token
        if token.kind == "STRING":
            self.advance()
            if "*" not in token.text:
                raise QuerySyntaxError(
                    f"parse pattern has no '*' {_position(self.query, token.start)}",
                    token.start,
                    token.end,
                )
            if not self.is_word("as"):
                raise self.error("'as'")
            self.advance()
            names = [self.identifier()]
            while self.is_op(","):
                self.advance()
                names.append(self.identifier())
            stars = token.text.count("*")
            if stars != len(names):
                raise QuerySyntaxError(
                    f"parse pattern has {stars} '*' but {len(names)} names "
                    f"{_position(self.query, token.start)}",
                    token.start,
                    token.end,
                )
            return ParseCommand(source, _glob_regex(token.text), tuple(names))
        if token.kind == "REGEX":
            self.advance()
            compiled = compile_regex(token.text, token.flags, token.start, token.end)
            groups = tuple(str(name) for name in compiled.groupindex)
            if not groups:
                raise QuerySyntaxError(
                    "parse regular expression has no named group (?<name>...) "
                    f"{_position(self.query, token.start)}",
                    token.start,
                    token.end,
                )
            return ParseCommand(source, compiled, groups)
        raise self.error("{STRING, REGEX}")

    def identifier(self) -> str:
        token = self.token
        if token.kind not in ("NAME", "FIELD"):
            raise self.error("IDENTIFIER")
        self.advance()
        return token.text

    # -- expressions

    def expression(self) -> Any:
        self.enter()
        try:
            operands = [self.conjunction()]
            while self.is_word("or"):
                self.advance()
                operands.append(self.conjunction())
            expr = _balanced("or", operands)
            if _depth(expr) > MAX_TREE_DEPTH:
                raise QuerySyntaxError(
                    f"Expression is more than {MAX_TREE_DEPTH} operators deep "
                    f"{_position(self.query, self.token.start)}",
                    self.token.start,
                    self.token.end,
                )
            return expr
        finally:
            self.depth -= 1

    def conjunction(self) -> Any:
        operands = [self.negation()]
        while self.is_word("and"):
            self.advance()
            operands.append(self.negation())
        return _balanced("and", operands)

    def negation(self) -> Any:
        if self.is_word("not"):
            self.advance()
            self.enter()
            try:
                return Unary("not", self.negation())
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Any:
        left = self.additive()
        if self.is_op("=", "==", "!=", "<", "<=", ">", ">="):
            op = self.advance().text
            return Binary("=" if op == "==" else op, left, self.additive())
        negate = False
        if self.is_word("not") and self.tokens[self.i + 1].kind == "NAME":
            following = self.tokens[self.i + 1].text.lower()
            if following in ("like", "in"):
                self.advance()
                negate = True
        if self.is_word("like") or self.is_op("=~"):
            self.advance()
            token = self.token
            if token.kind == "STRING":
                self.advance()
                return Like(left, Literal(token.text), negate)
            if token.kind == "REGEX":
                self.advance()
                compiled = compile_regex(token.text, token.flags, token.start, token.end)
                return Like(left, Regex(token.text, compiled), negate)
            raise self.error("{STRING, REGEX}")
        if self.is_word("in"):
            self.advance()
            self.expect_op("[")
            values = [self.additive()]
            while self.is_op(","):
                self.advance()
                values.append(self.additive())
            self.expect_op("]")
            return In(left, tuple(values), negate)
        if negate:
            raise self.error("{'like', 'in'}")
        return left

    def additive(self) -> Any:
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.advance().text
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Any:
        left = self.unary()
        while self.is_op("*", "/", "%"):
            op = self.advance().text
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.is_op("-"):
            self.advance()
            self.enter()
            try:
                return Unary("-", self.unary())
            finally:
                self.depth -= 1
        return self.primary()

    def primary(self) -> Any:
        token = self.token
        if token.kind == "NUMBER":
            self.advance()
            value = float(token.text)
            return Literal(int(value) if value.is_integer() and "." not in token.text else value)
        if token.kind == "STRING":
            self.advance()
            return Literal(token.text)
        if token.kind == "DURATION":
            self.advance()
            match = _NUMBER.match(token.text)
            assert match is not None
            return Duration(int(float(match.group(1)) * UNITS[str(match.group(2)).lower()]))
        if token.kind == "FIELD":
            self.advance()
            return Field(token.text)
        if self.is_op("("):
            self.advance()
            inner = self.expression()
            self.expect_op(")")
            return inner
        if token.kind == "NAME":
            if self.tokens[self.i + 1].kind == "OP" and self.tokens[self.i + 1].text == "(":
                return self.call()
            if token.text.lower() in ("and", "or", "not", "like", "in", "by", "as"):
                raise self.error()
            self.advance()
            return Field(token.text)
        raise self.error()

    def call(self) -> Call:
        token = self.advance()
        name = token.text.lower()
        if name not in AGGREGATES and name not in FUNCTIONS:
            raise QuerySyntaxError(
                f"Unknown function '{token.text}' {_position(self.query, token.start)}",
                token.start,
                token.end,
            )
        self.expect_op("(")
        if name == "count" and self.is_op("*"):
            self.advance()
            self.expect_op(")")
            return Call(name, (), star=True)
        args: list[Any] = []
        if not self.is_op(")"):
            args.append(self.expression())
            while self.is_op(","):
                self.advance()
                args.append(self.expression())
        self.expect_op(")")
        low, high = FUNCTIONS.get(name, (1, 2 if name == "pct" else 1))
        if name == "pct":
            low = 2
        if name == "count":
            low = 0
        if not low <= len(args) <= high:
            raise QuerySyntaxError(
                f"Function '{name}' takes {low}..{high} arguments, not {len(args)} "
                f"{_position(self.query, token.start)}",
                token.start,
                self.tokens[self.i - 1].end,
            )
        if name == "pct" and not (
            isinstance(args[1], Literal) and isinstance(args[1].value, int | float)
        ):
            raise QuerySyntaxError("pct() takes a number as its second argument", token.start)
        if name == "bin" and not isinstance(args[0], Duration):
            raise QuerySyntaxError(
                f"bin() takes a time period like 5m {_position(self.query, token.start)}",
                token.start,
                token.end,
            )
        if name in AGGREGATES and any(_has_aggregate(arg) for arg in args):
            raise QuerySyntaxError("Aggregate functions cannot be nested", token.start)
        return Call(name, tuple(args))


def _balanced(op: str, operands: list[Any]) -> Any:
    """``a op b op c ...`` for an associative ``op``, as a tree of logarithmic depth."""
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    return Binary(op, _balanced(op, operands[:middle]), _balanced(op, operands[middle:]))


def _depth(expr: Any) -> int:
    """The tree's depth, without recursion (the tree may be deep: that is what is checked)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_TREE_DEPTH:
            return level
        if isinstance(node, Binary):
            stack += [(node.left, level + 1), (node.right, level + 1)]
        elif isinstance(node, Unary | Like):
            stack.append((node.operand, level + 1))
        elif isinstance(node, Call):
            stack += [(arg, level + 1) for arg in node.args]
        elif isinstance(node, In):
            stack += [(value, level + 1) for value in (node.operand, *node.values)]
    return deepest


def _has_aggregate(expr: Any) -> bool:
    if isinstance(expr, Call):
        return expr.name in AGGREGATES or any(_has_aggregate(arg) for arg in expr.args)
    if isinstance(expr, Unary):
        return _has_aggregate(expr.operand)
    if isinstance(expr, Binary):
        return _has_aggregate(expr.left) or _has_aggregate(expr.right)
    return False


def _glob_regex(pattern: str) -> Any:
    """``parse``'s glob: each ``*`` captures the shortest text that lets the rest match,
    the last one (when the pattern ends with it) the rest of the line."""
    pieces = pattern.split("*")
    body = ""
    for index, piece in enumerate(pieces):
        body += regex.escape(piece)
        if index < len(pieces) - 1:
            last = index == len(pieces) - 2 and pieces[-1] == ""
            body += "(.*)" if last else "(.*?)"
    return regex.compile(body, regex.DOTALL)


def parse(query: str) -> Query:
    """The syntax tree of ``query``; :class:`QuerySyntaxError` when it does not compile."""
    return _Parser(query).parse()
