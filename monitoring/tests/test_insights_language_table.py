"""The Logs Insights query language, case by case: each query parsed and run over the same
fixed events (no database), or refused with a syntax error."""

from __future__ import annotations

import json

import pytest

from monitoring.insights import engine
from monitoring.insights import language as lang

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
REPORT = (
    "REPORT RequestId: 6f1c2a3b-0000-4000-8000-000000000001\tDuration: 12.50 ms\t"
    "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"
)
REPORT_2 = REPORT.replace("0001", "0002").replace("12.50", "102.00").replace("13 ms", "103 ms")
MESSAGES = [
    json.dumps({"level": "ERROR", "status": 500, "user": {"id": "u1"}, "tags": ["a", "b"]}),
    json.dumps({"level": "INFO", "status": 200, "user": {"id": "u2"}, "ok": True}),
    json.dumps({"level": "INFO", "status": "404", "latency": 35.5}),
    "START RequestId: 6f1c2a3b-0000-4000-8000-000000000001 Version: $LATEST",
    "[ERROR] 2023-11-14 boom user=alice action=login",
    "[INFO] 2023-11-14 fine user=bob action=logout",
    "END RequestId: 6f1c2a3b-0000-4000-8000-000000000001",
    REPORT,
    REPORT_2,
    "plain text with Timeout inside",
]
# One event a minute; two streams.
EVENTS = [
    engine.Event(
        T0 + i * 60_000, message, f"stream-{i % 2}", "123456789012:/aws/lambda/f", 0, f"p{i}"
    )
    for i, message in enumerate(MESSAGES)
]


def run(query: str, limit: int = 10_000) -> list[dict[str, str]]:
    result = engine.run(lang.parse(query), EVENTS, limit)
    rows = engine.render(result, 10**7)
    return [{cell["field"]: cell["value"] for cell in row} for row in rows]


def column(query: str, name: str) -> list[str | None]:
    return [row.get(name) for row in run(query)]


GLOB = (
    "parse @message '[*] * user=* action=*' as lvl, day, who, what"
    " | filter ispresent(who) | sort @timestamp asc"
)

CASES: list[tuple[str, str, list[str | None]]] = [
    # (query, column to read, values top to bottom)
    ("fields @message | filter @message like 'ERROR'", "@message", [MESSAGES[0], MESSAGES[4]]),
    ("filter @message like /ERR?OR/ | fields @message", "@message", [MESSAGES[0], MESSAGES[4]]),
    ("filter @message like /(?i)timeout/ | fields @message", "@message", [MESSAGES[9]]),
    ("filter @message =~ /user=\\w+/ | fields @message", "@message", [MESSAGES[4], MESSAGES[5]]),
    ("filter @message not like 'RequestId' | stats count(*) as n", "n", ["6"]),
    ("filter level = 'ERROR' | fields level", "level", ["ERROR"]),
    ("filter level != 'ERROR' | fields level", "level", ["INFO", "INFO"]),
    ("filter status = 500 | fields status", "status", ["500"]),
    ("filter status >= 404 | sort status asc | fields status", "status", ["404", "500"]),
    ("filter status < 404 | fields status", "status", ["200"]),
    ("filter status <= 404 | sort status desc | fields status", "status", ["404", "200"]),
    ("filter status > 200 and level = 'INFO' | fields status", "status", ["404"]),
    ("filter status = 500 or status = 200 | sort status | fields status", "status", ["500", "200"]),
    (
        "filter not (status = 500) and ispresent(status) | sort status asc | fields status",
        "status",
        ["200", "404"],
    ),
    ("filter status in [200, 404] | sort status asc | fields status", "status", ["200", "404"]),
    ("filter status not in [200, 404] | fields status", "status", ["500"]),
    ("filter level in ['ERROR'] | fields level", "level", ["ERROR"]),
    ("filter ispresent(latency) | fields latency", "latency", ["35.5"]),
    ("filter not ispresent(level) | stats count(*) as n", "n", ["7"]),
    ("filter user.id = 'u2' | fields user.id", "user.id", ["u2"]),
    ("filter tags.1 = 'b' | fields tags.0", "tags.0", ["a"]),
    ("filter ok = 'true' | fields ok", "ok", ["true"]),
    ("filter `user.id` like 'u' | sort @timestamp asc | fields `user.id`", "user.id", ["u1", "u2"]),
    ("fields latency * 2 as double | filter ispresent(double)", "double", ["71"]),
    ("fields status + 1 as next | filter next > 0 | sort next asc", "next", ["201", "405", "501"]),
    ("fields status / 100 as hundreds | filter hundreds = 5", "hundreds", ["5"]),
    ("fields status % 7 as rest | filter status = 500", "rest", ["3"]),
    ("fields -status as neg | filter neg < -400 | sort neg", "neg", ["-404", "-500"]),
    ("fields strlen(level) as n | filter ispresent(level) | sort n desc | limit 1", "n", ["5"]),
    ("fields toupper(level) as up | filter level = 'INFO' | limit 1", "up", ["INFO"]),
    ("fields tolower(level) as low | filter level = 'ERROR'", "low", ["error"]),
    ("fields concat(level, '-', status) as c | filter status = 200", "c", ["INFO-200"]),
    ("fields substr(level, 0, 2) as s | filter level = 'ERROR'", "s", ["ER"]),
    ("fields replace(level, 'ERR', 'err') as r | filter level = 'ERROR'", "r", ["errOR"]),
    ("fields abs(-3) as a, floor(latency) as f | filter ispresent(latency)", "f", ["35"]),
    ("fields ceil(latency) as c | filter ispresent(latency)", "c", ["36"]),
    (
        "fields coalesce(latency, status) as v | filter ispresent(status) | sort @timestamp asc",
        "v",
        ["500", "200", "35.5"],
    ),
    ("fields greatest(1, status) as g | filter status = 200", "g", ["200"]),
    ("filter strcontains(@message, 'alice') | fields @logStream", "@logStream", ["stream-0"]),
    (
        "fields @timestamp | sort @timestamp asc | limit 2",
        "@timestamp",
        ["2023-11-14 22:13:20.000", "2023-11-14 22:14:20.000"],
    ),
    ("fields @timestamp, @message | sort @timestamp desc | limit 1", "@message", [MESSAGES[9]]),
    ("fields @log | limit 1", "@log", ["123456789012:/aws/lambda/f"]),
    (
        "filter @type = 'REPORT' | fields @requestId | sort @timestamp asc",
        "@requestId",
        ["6f1c2a3b-0000-4000-8000-000000000001", "6f1c2a3b-0000-4000-8000-000000000002"],
    ),
    (
        "filter @type = 'START' | fields @requestId",
        "@requestId",
        ["6f1c2a3b-0000-4000-8000-000000000001"],
    ),
    (
        "filter @type = 'REPORT' | sort @duration asc | fields @duration",
        "@duration",
        ["12.5", "102"],
    ),
    (
        "filter @type = 'REPORT' | fields @billedDuration | sort @billedDuration",
        "@billedDuration",
        ["103", "13"],
    ),
    ("filter @type = 'REPORT' | fields @memorySize | limit 1", "@memorySize", ["128000000"]),
    ("filter @type = 'REPORT' | stats max(@maxMemoryUsed / 1000 / 1000) as mb", "mb", ["40"]),
    ("stats count(*) as n", "n", ["10"]),
    ("stats count(level) as n", "n", ["3"]),
    ("stats count_distinct(level) as n", "n", ["2"]),
    ("stats sum(status) as total", "total", ["1104"]),
    ("stats avg(status) as mean", "mean", ["368"]),
    ("stats min(status) as low", "low", ["200"]),
    ("stats max(status) as high", "high", ["500"]),
    ("filter @type = 'REPORT' | stats pct(@duration, 50) as p50", "p50", ["12.5"]),
    ("filter @type = 'REPORT' | stats pct(@duration, 99) as p99", "p99", ["102"]),
    ("filter @type = 'REPORT' | stats avg(@duration)", "avg(@duration)", ["57.25"]),
    ("stats count(*) by level | sort level asc", "level", ["ERROR", "INFO", None]),
    ("filter ispresent(level) | stats count(*) as n by level | sort n desc", "n", ["2", "1"]),
    ("stats count(*) as n by @logStream | sort @logStream asc", "n", ["5", "5"]),
    (
        "stats count(*) as n by bin(5m)",
        "bin(5m)",
        ["2023-11-14 22:10:00.000", "2023-11-14 22:15:00.000", "2023-11-14 22:20:00.000"],
    ),
    ("stats count(*) as n by bin(5m)", "n", ["2", "5", "3"]),
    ("stats count(*) as n by bin(1h)", "n", ["10"]),
    ("stats count(*) as n by bin(5m) as t | sort t desc | limit 1", "n", ["3"]),
    (
        "filter ispresent(level) | stats count(*) as n by level | stats sum(n) as total",
        "total",
        ["3"],
    ),
    ("filter ispresent(level) | stats count(*) as n by level | filter n > 1", "level", ["INFO"]),
    ("stats count(*) * 2 as twice", "twice", ["20"]),
    (
        GLOB + " | display who, what",
        "who",
        ["alice", "bob"],
    ),
    (
        GLOB + " | display what",
        "what",
        ["login", "logout"],
    ),
    (
        "parse @message /user=(?<who>\\w+)/ | filter ispresent(who)"
        " | stats count(*) as n by who | sort who",
        "who",
        ["bob", "alice"],
    ),
    ("parse /user=(?<who>\\w+)/ | filter who = 'alice' | fields who", "who", ["alice"]),
    (
        "parse @message 'Duration: * ms' as d | filter ispresent(d) | sort d asc | fields d",
        "d",
        ["12.50", "102.00"],
    ),
    ("fields level | display level | filter ispresent(level) | limit 1", "level", ["ERROR"]),
    ("filter ispresent(level) | display @message, level | limit 1", "@message", [MESSAGES[0]]),
    (
        "# a comment\nfields level # trailing\n| filter level = 'INFO' | stats count(*) as n",
        "n",
        ["2"],
    ),
    ("display level | stats count(*) as n", "n", ["10"]),
    ("limit 3 | fields @message", "@message", [MESSAGES[0], MESSAGES[1], MESSAGES[2]]),
    ("fields isempty(level) as e | filter status = 200", "e", ["false"]),
    ("filter isblank(level) | stats count(*) as n", "n", ["7"]),
    ("FIELDS level | FILTER level = 'ERROR' AND status = 500", "level", ["ERROR"]),
    ('filter @message like "user=\\"x" | stats count(*) as n', "n", ["0"]),
]


@pytest.mark.parametrize(("query", "name", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_query_gives_the_expected_column(query: str, name: str, expected: list[str | None]) -> None:
    assert column(query, name) == expected


ERRORS = [
    ("", "mismatched input '<EOF>'"),
    ("count(*)", "mismatched input 'count' expecting {K_FIELDS"),
    ("fields @message |", "mismatched input '<EOF>'"),
    ("fields @message | bogus", "mismatched input 'bogus'"),
    ("filter status = ", "mismatched input '<EOF>'"),
    ("filter (status = 1", "mismatched input '<EOF>' expecting ')'"),
    ("filter status = 'open", "token recognition error"),
    ("filter @message like /unterminated", "token recognition error"),
    ("filter @message like /a(/", "Invalid regular expression"),
    ("limit 0", "Limit must be between 1 and 10000"),
    ("limit 10001", "Limit must be between 1 and 10000"),
    ("limit x", "expecting INTEGER"),
    ("stats level", "is not an aggregate function"),
    ("fields count(*)", "is only allowed in stats"),
    ("stats nosuch(x)", "Unknown function 'nosuch'"),
    ("stats count(*) by bin(5)", "bin() takes a time period"),
    ("stats count(*) by bin(5parsecs)", "extraneous input 'parsecs'"),
    ("stats pct(x)", "takes 2..2 arguments"),
    ("stats sum(max(x))", "cannot be nested"),
    ("parse @message 'no stars' as a", "has no '*'"),
    ("parse @message 'a * b *' as one", "has 2 '*' but 1 names"),
    ("parse @message /(\\w+)/", "has no named group"),
    ("filter status ~ 3", "token recognition error at: '~'"),
    ("fields a, , b", "extraneous input ','"),
    ("filter " + "(" * 100 + "x" + ")" * 100, "nested more than"),
    ("filter " + "not " * 100 + "x", "nested more than"),
    ("fields a" + " | fields a" * 60, "more than 50 commands"),
    ("fields " + ", ".join(["a"] * 3000), "more than 4000 tokens"),
    ("filter x not 3", "mismatched input"),
    ("filter @message like /((a{1000}){1000}){1000}/", "repeats too much"),
    ("parse @message /(?<x>.{20000})/", "repeats too much"),
    ("fields " + " + ".join(["1"] * 300), "more than 200 operators deep"),
    ("stats count(*) | stats count(*) | stats count(*)", "at most two stats"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_malformed_query_is_refused_with_a_message(query: str, message: str) -> None:
    with pytest.raises(lang.QuerySyntaxError) as error:
        lang.parse(query)
    assert message in error.value.message


def test_syntax_error_names_line_and_position() -> None:
    with pytest.raises(lang.QuerySyntaxError) as error:
        lang.parse("fields @message\n| bogus")
    assert error.value.message == (
        "mismatched input 'bogus' expecting {K_FIELDS, K_DISPLAY, K_FILTER, K_STATS, K_SORT, "
        "K_LIMIT, K_PARSE} at line 2 and position 2"
    )
    assert (error.value.start, error.value.end) == (18, 23)


def test_results_without_fields_show_every_discovered_field_and_ptr() -> None:
    row = run("filter status = 500")[0]
    assert row["level"] == "ERROR" and row["user.id"] == "u1" and row["@ptr"] == "p0"
    assert row["@logStream"] == "stream-0" and row["@timestamp"] == "2023-11-14 22:13:20.000"


def test_stats_rows_carry_no_ptr() -> None:
    assert run("stats count(*) as n") == [{"n": "10"}]


def test_limit_parameter_caps_the_rows() -> None:
    assert len(run("fields @message", limit=4)) == 4


def test_a_long_or_chain_runs_without_deep_recursion() -> None:
    query = "filter " + " or ".join(["@message like 'nope'"] * 400) + " | stats count(*) as n"
    assert run(query) == [{"n": "0"}]


def test_catastrophic_regex_fails_the_query_instead_of_hanging() -> None:
    events = [engine.Event(T0, "x" * 5000, "s", "l", 0, "p")]
    query = lang.parse(r"filter @message like /(x+x+)+y/")
    with pytest.raises(engine.QueryFailed):
        engine.run(query, events, 10)


def test_rows_held_for_sorting_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_HELD_BYTES", 2_000)
    events = [engine.Event(T0 + i, "x" * 500, "s", "l", 0, "p") for i in range(10)]
    with pytest.raises(engine.BudgetExceeded):
        engine.run(lang.parse("fields @message | sort @timestamp desc | filter 1 = 1"), events, 10)


def test_rows_returned_unsorted_stop_at_the_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_HELD_BYTES", 2_000)
    events = [engine.Event(T0 + i, "x" * 500, "s", "l", 0, "p") for i in range(10)]
    assert len(engine.run(lang.parse("fields @message"), events, 10).rows) == 4


def test_stats_groups_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_HELD_BYTES", 2_000)
    events = [engine.Event(T0, f"{i}" + "x" * 500, "s", "l", 0, "p") for i in range(10)]
    with pytest.raises(engine.BudgetExceeded):
        engine.run(lang.parse("stats count(*) by @message"), events, 10)


def test_top_rows_of_a_sort_keep_only_the_limit_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_HELD_BYTES", 2_000)
    events = [engine.Event(T0 + i, f"{i:03d}" + "x" * 500, "s", "l", 0, "p") for i in range(100)]
    result = engine.run(lang.parse("sort @timestamp desc | limit 2"), events, 10)
    assert [row["@message"][:3] for row in result.rows] == ["099", "098"]


def test_sort_follows_awss_natural_order() -> None:
    values = ["3", "A", "111A", "@", "5A", "0#", "01", "*%04", "2345_", "a12345hfh", "A9876fghj"]
    events = [engine.Event(T0 + i, v, "s", "l", 0, "p") for i, v in enumerate(values)]
    result = engine.run(lang.parse("sort @message asc"), events, 100)
    assert [row["@message"] for row in result.rows] == [
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "A",
        "A9876fghj",
        "a12345hfh",
        "01",
        "3",
    ]
    result = engine.run(lang.parse("sort @message desc | limit 3"), events, 100)
    assert [row["@message"] for row in result.rows] == ["3", "01", "a12345hfh"]
