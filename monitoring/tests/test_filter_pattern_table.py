"""Filter patterns against lines, as CloudWatch Logs' "Filter pattern syntax" pages document
them (unstructured, JSON, space-delimited, regex), and the errors CloudWatch answers.

Where the pages are silent, the cases pin what we chose, and say why:
- unquoted terms are letters, digits and ``_`` (AWS: ``Invalid character(s) in term ':'``
  for ``Status:``, ``'$."'`` for ``$."sc-status"``), and ``-`` inside one starts an
  exclusion (searching ``request-id-123`` unquoted finds nothing on AWS);
- a JSON comparison holds only on a string or a number; a number in the pattern equals a
  string holding that plain decimal number ("Strings containing scientific notation are
  not supported");
- ``*`` is a wildcard only at either end of a value (``Ev*ent`` is itself).
"""

from __future__ import annotations

import json

import pytest

from monitoring import filter_patterns
from monitoring.errors import InvalidParameter

# ---- unstructured ---------------------------------------------------------------------------

FATAL = "[ERROR] A fatal exception has occurred"
EXITING = "Exiting with ERRORCODE: -1"
BOTH = "ERROR WARN message"
ERROR_ONLY = "ERROR message"
WARN_ONLY = "WARN message"

TEXT = [
    ("", "anything at all", True),
    ("", "", True),
    ("   ", "anything", True),
    ("ERROR", FATAL, True),
    ("ERROR", EXITING, True),
    ("ERROR", "error: lower case", False),
    ("error", FATAL, False),
    ("ERROR -Exiting", FATAL, True),
    ("ERROR -Exiting", EXITING, False),
    ('"ERROR" - "Exiting"', EXITING, False),
    ('"ERROR" - "Exiting"', FATAL, True),
    ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
    ("ERROR Exception", "[ERROR] Unhandled Exception", True),
    ("ERROR Exception", FATAL, False),
    ("Failed to process the request", "[WARN] Failed to process the request", True),
    (
        "Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
        True,
    ),
    ("Failed to process the request", "the request to process Failed", True),
    ('"Failed to process the request"', "the request to process Failed", False),
    ('"Failed to process the request"', "[WARN] Failed to process the request", True),
    ('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL SERVER ERROR", True),
    ('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL ERROR", False),
    ("ERROR", BOTH, True),
    ("ERROR", ERROR_ONLY, True),
    ("ERROR", WARN_ONLY, False),
    ("?ERROR ?WARN", BOTH, True),
    ("?ERROR ?WARN", ERROR_ONLY, True),
    ("?ERROR ?WARN", WARN_ONLY, True),
    ("?ERROR ?WARN", "INFO message", False),
    ("ERROR WARN", BOTH, True),
    ("ERROR WARN", ERROR_ONLY, False),
    ("ERROR -WARN", BOTH, False),
    ("ERROR -WARN", ERROR_ONLY, True),
    ("ERROR -WARN", WARN_ONLY, False),
    ("-ERROR", WARN_ONLY, True),
    ("?ERROR ?WARN -message", BOTH, False),
    ('?"ERROR 401" ?"ERROR 403"', "[ERROR 403] FORBIDDEN", True),
    ('"user@example.com"', "login of user@example.com failed", True),
    ('"[ERROR]"', FATAL, True),
    ('"say \\"hi\\""', 'they say "hi"', True),
    ('"50%"', "progress 50%", True),
    ("ERROR_CODE", "got ERROR_CODE 7", True),
    ("café", "un café noir", True),
    ("404", "GET / 404 12ms", True),
    # "request-id" unquoted is "request -id": quote it.
    ("request-id", "request-id abc", False),
    ("request-id", "request handled", True),
    ('"request-id"', "request-id abc", True),
]

# ---- JSON -------------------------------------------------------------------------------------

TRAIL = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    },
    indent=2,
)
USERS = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
NUMBERS = (
    '{"latency": 500, "errorCode": 400, "numbers": [5, 0.001], "ratio": "0.75",'
    ' "big": 1e3, "sci": "1e3", "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}'
)

JSON = [
    ('{ $.eventType = "UpdateTrail" }', TRAIL, True),
    ("{ $.eventType = UpdateTrail }", TRAIL, True),
    ("{$.eventType=UpdateTrail}", TRAIL, True),
    ('{ $.eventType = "updatetrail" }', TRAIL, False),
    ('{ $.eventType = "Update*" }', TRAIL, True),
    ('{ $.eventType = "*Trail" }', TRAIL, True),
    ("{ $.eventType = *Trail }", TRAIL, True),
    ('{ $.eventType = "*dateT*" }', TRAIL, True),
    ('{ $.eventType = "Up*Trail" }', TRAIL, False),
    ("{ $.eventType = * }", TRAIL, True),
    ('{ $.eventType != "UpdateTrail" }', TRAIL, False),
    ('{ $.eventType != "DeleteTrail" }', TRAIL, True),
    ("{ $.sourceIPAddress != 123.123.* }", TRAIL, True),
    ("{ $.sourceIPAddress = 111.111.* }", TRAIL, True),
    ('{ $.sourceIPAddress = "111.111.111.111" }', TRAIL, True),
    ('{ $.arrayKey[0] = "value" }', TRAIL, True),
    ('{ $.arrayKey[1] = "another value" }', TRAIL, True),
    ('{ $.arrayKey[2] = "value" }', TRAIL, False),
    ("{ $.arrayKey[2] NOT EXISTS }", TRAIL, True),
    ('{ $.eventType[0] = "UpdateTrail" }', TRAIL, False),
    ("{ $.objectList[1].id = 2 }", TRAIL, True),
    ("{ $.objectList[0].id = 2 }", TRAIL, False),
    ("{ $.objectList[1].name = b }", TRAIL, True),
    ("{ $.objectList[1].missing = b }", TRAIL, False),
    ("{ $.SomeObject IS NULL }", TRAIL, True),
    ("{ $.ThisFlag IS NULL }", TRAIL, False),
    ("{ $.SomeOtherObject IS NULL }", TRAIL, False),
    ("{ $.SomeOtherObject NOT EXISTS }", TRAIL, True),
    ("{ $.SomeObject NOT EXISTS }", TRAIL, False),
    ("{ $.ThisFlag IS TRUE }", TRAIL, True),
    ("{ $.ThisFlag IS FALSE }", TRAIL, False),
    ("{ $.eventType IS TRUE }", TRAIL, False),
    # true, false and null are not values a comparison reads: IS TRUE etc. test for them.
    ("{ $.ThisFlag = true }", TRAIL, False),
    ("{ $.SomeObject = * }", TRAIL, False),
    # An array or an object fails = and != alike.
    ('{ $.arrayKey = "value" }', TRAIL, False),
    ('{ $.arrayKey != "value" }', TRAIL, False),
    ("{ $.objectList = * }", TRAIL, False),
    ("{ $.users = 1 }", '{"users": [1, 2, 3]}', False),
    ("{ $.users != 1 }", '{"users": [1, 2, 3]}', False),
    ('{ $.eventType = "UpdateTrail" && $.ThisFlag IS TRUE }', TRAIL, True),
    ('{ $.eventType = "UpdateTrail" && $.ThisFlag IS FALSE }', TRAIL, False),
    ('{ $.eventType = "x" || $.ThisFlag IS TRUE }', TRAIL, True),
    ("{ $.foo = bar }", '{"foo": "bar"}', True),
    ("{ $.foo = bar }", '{"foo": "baz"}', False),
    ("{ $.foo = baz }", '{"foo": "baz"}', True),
    ("{ $.foo = bar || $.foo = baz }", '{"foo": "bar"}', True),
    ("{ $.foo = bar || $.foo = baz }", '{"foo": "baz"}', True),
    ("{ $.foo = bar || $.foo = baz }", '{"foo": "qux"}', False),
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', USERS, True),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', USERS, False),
    (
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
        " && $.actions[2] = nomatch }",
        USERS,
        True,
    ),
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch)'
        " && $.actions[2] = nomatch }",
        USERS,
        False,
    ),
    ("{ $.coordinates[1][2] = 6 }", USERS, True),
    ("{ $.coordinates[0][1] > 0 }", USERS, True),
    ("{ $.users[1].id >= 3 && $.actions[0] = GET }", USERS, True),
    ("{ (($.users[1].id >= 3)) && (($.actions[0] = PUT) || $.actions[1] = PUT) }", USERS, True),
    ("{ $.latency >= 500 }", NUMBERS, True),
    ("{ $.latency > 500 }", NUMBERS, False),
    ("{ $.latency < 500.1 }", NUMBERS, True),
    ("{ $.latency <= 499.99 }", NUMBERS, False),
    ("{ $.latency = 500.0 }", NUMBERS, True),
    ("{ $.latency = 5e2 }", NUMBERS, True),
    ("{ $.latency > +499 }", NUMBERS, True),
    ("{ $.latency > -1 }", NUMBERS, True),
    ("{ $.numbers[0] < 10e3 }", NUMBERS, True),
    ("{ $.numbers[1] < 10e-3 }", NUMBERS, True),
    ("{ $.numbers[1] < 1e-3 }", NUMBERS, False),
    ("{ $.processes[4].averageRuntime <= 55.5 }", NUMBERS, True),
    ("{ $.errorCode = 400 }", NUMBERS, True),
    ("{ $.errorCode != 500 }", NUMBERS, True),
    ("{ $.errorCode != 400 }", NUMBERS, False),
    ("{ $.errorCode = 4* }", NUMBERS, True),
    ('{ $.errorCode = "400" }', NUMBERS, True),
    ("{ $.ratio < 1 }", NUMBERS, True),
    ("{ $.ratio = 0.75 }", NUMBERS, True),
    ("{ $.big = 1000 }", NUMBERS, True),
    ("{ $.sci = 1000 }", NUMBERS, False),
    ("{ $.sci != 1000 }", NUMBERS, True),
    ("{ $.sci > 1 }", NUMBERS, False),
    ("{ $.missing > 1 }", NUMBERS, False),
    ("{ $.missing != 1 }", NUMBERS, False),
    ("{ $.x = 1 }", '{"x": 1}', True),
    ("{ $.x = 1 }", '{"x": "1"}', True),
    ("{ $.x = 1 }", '{"x": "one"}', False),
    ('{ $.x = "1" }', '{"x": 1}', True),
    ("{ $.x = 1 }", '{"x": 1}\n', True),
    ("{ $.x = 1 }", '  {"x": 1}  ', True),
    ("{ $.x = 1 }", "x = 1", False),
    ("{ $.x NOT EXISTS }", "not json at all", False),
    ("{ $.x NOT EXISTS }", "[1, 2]", False),
    ("{ $.x NOT EXISTS }", '"a string"', False),
    ("{ $.x NOT EXISTS }", "{}", True),
    ("{ $.x = 1 }", 'INFO {"x": 1}', False),
    ("{ $.x = 1 }", '{"x": NaN}', False),
    ("{ $.x NOT EXISTS }", "[" * 100_000, False),
    ("{ $.x NOT EXISTS }", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", False),
    ("{ $.n > 1 }", '{"n": ' + "9" * 10_000 + "}", True),
    ('{ $.name = "café" }', '{"name": "caf\\u00e9"}', True),
    ('{ $.name = "café" }', '{"name": "cafe"}', False),
    ('{ $.detail-type = "Scheduled Event" }', '{"detail-type": "Scheduled Event"}', True),
    ('{ $.msg = "say \\"hi\\"" }', '{"msg": "say \\"hi\\""}', True),
    ('{ $.path = "/a/b" }', '{"path": "\\/a\\/b"}', True),
    ("{ $.eventType = %^Update% }", TRAIL, True),
    ("{ $.eventType = %Trail$% }", TRAIL, True),
    ("{ $.eventType = %^Trail% }", TRAIL, False),
    ("{ $.eventType != %Delete% }", TRAIL, True),
    ("{ $.errorCode = %^4\\d\\d$% }", NUMBERS, True),
    ("{ $.eventType = %Update% && $.sourceIPAddress = %^111\\.% }", TRAIL, True),
]

# ---- space-delimited --------------------------------------------------------------------------

OK = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
FAILED = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324'
MISSING = '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 404 1534'
ALL_SEVEN = "[ip, user, username, timestamp, request, status_code, bytes]"
REPORT = "REPORT RequestId: 3f2a\tDuration: 1.52 ms\tBilled Duration: 2 ms"

DELIMITED = [
    (ALL_SEVEN, OK, True),
    ("[ip, user, username, timestamp, request, status_code]", OK, False),
    ("[ip, user, username, timestamp, request, status_code, bytes, extra]", OK, False),
    ("[..., status_code, bytes]", OK, True),
    ("[ip, user, ..., status_code, bytes]", OK, True),
    ("[ip, user, ...]", OK, True),
    ("[...]", OK, True),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", OK, True),
    ("[ip, user, username, timestamp, request, status_code, bytes > 2000]", OK, False),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", OK, True),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", FAILED, False),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", MISSING, True),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", OK, False),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", MISSING, True),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", OK, False),
    (
        "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]",
        MISSING,
        True,
    ),
    (
        "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]",
        OK,
        False,
    ),
    (
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
        MISSING,
        True,
    ),
    (
        "[ip, user, username, timestamp, request, (status_code = 2* || status_code = 5*)"
        " && status_code != 500, bytes]",
        OK,
        True,
    ),
    ("[..., request=*.html*, status_code=4*,]", MISSING, True),
    ("[..., request=*.html*, status_code=4*,]", OK, False),
    ("[ip = 127.0.0.1, ...]", OK, True),
    ('[ip = "127.0.0.1", ...]', OK, True),
    ("[ip = 127.*, ...]", OK, True),
    ("[ip != 127.*, ...]", OK, False),
    ("[ip, user = -, ...]", OK, True),
    ('[..., timestamp = "10/Oct/2000:13:25:15 -0700", request, status, bytes]', OK, True),
    ('[..., request = "GET /apache_pb.gif HTTP/1.0", status, bytes]', OK, True),
    ("[..., status_code >= 500, bytes]", FAILED, True),
    ("[..., status_code >= 500, bytes]", OK, False),
    ("[..., status_code < 300, bytes]", OK, True),
    ("[..., status_code = %^5\\d\\d$%, bytes]", FAILED, True),
    ("[..., status_code = %^5\\d\\d$%, bytes]", OK, False),
    ("[..., request = %index%, status_code, bytes]", MISSING, True),
    ("[..., request = %index%, status_code = %^4%, bytes]", MISSING, True),
    ("[w1=ERROR, w2]", BOTH, False),
    ("[w1=ERROR, w2]", ERROR_ONLY, True),
    ("[w1=ERROR, w2]", WARN_ONLY, False),
    ("[w1=ERROR || w1=WARN, w2]", BOTH, False),
    ("[w1=ERROR || w1=WARN, w2]", ERROR_ONLY, True),
    ("[w1=ERROR || w1=WARN, w2]", WARN_ONLY, True),
    ("[w1=ERROR, ...]", BOTH, True),
    ("[w1!=ERROR&&w1!=INFO, w2]", WARN_ONLY, True),
    ("[w1!=ERROR&&w1!=WARN, w2]", WARN_ONLY, False),
    ("[type = REPORT, ...]", REPORT, True),
    ("[..., billed > 1, unit = ms]", REPORT, True),
    ("[..., duration = 1.52, unit, label, billed_label, billed, billed_unit]", REPORT, True),
    ("[a, , c]", "1 2 3", True),
    ("[a, , c]", "1 2", False),
    ("[x, y]", "a    b", True),
    ("[x, y]", "a b\n", True),
    ('[x = "a b", y]', "[a b] c", True),
    ('[x, y = "\\"b", z]', 'a "b c', True),
    ("[x = 1]", "1.0", True),
    ("[x = 1]", "one", False),
    ("[x != 1]", "one", True),
    ("[x > 1]", "2e3", False),
    ("[x]", "", False),
    ("[...]", "", True),
]

# ---- regex ------------------------------------------------------------------------------------

DENIED = "[ERROR 401] UNAUTHORIZED REQUEST"
ALLOWED = "[SUCCESS 200] AUTHORIZED REQUEST"

REGEX = [
    ("%AUTHORIZED%", DENIED, True),
    ("%AUTHORIZED%", ALLOWED, True),
    ("%^\\[SUCCESS%", ALLOWED, True),
    ("%^\\[SUCCESS%", DENIED, False),
    ("%authorized%", ALLOWED, False),
    ("%colou?r%", "color", True),
    ("%colou?r%", "colour", True),
    ("%colou?r%", "colouur", False),
    ("%^[hc]at%", "hat", True),
    ("%^[hc]at%", "cat", True),
    ("%^[hc]at%", "a cat", False),
    ("%[hc]at$%", "that", True),
    ("%[hc]at$%", "hats", False),
    ("%gray|grey%", "grey", True),
    ("%gray|grey%", "gray", True),
    ("%gray|grey%", "groy", False),
    ("%10\\.10\\.0\\.1%", "from 10.10.0.1", True),
    ("%10\\.10\\.0\\.1%", "from 10x10.0.1", False),
    ("%[a-z]%", "ABC", False),
    ("%[a-z]%", "ABc", True),
    ("%[^0-9]%", "123", False),
    ("%[^0-9]%", "12a", True),
    ("%a{3}%", "baab", False),
    ("%a{3}%", "baaab", True),
    ("%^a{2,3}$%", "aaaa", False),
    ("%^a{2,3}$%", "aaa", True),
    ("%^ab+c%", "abbbc", True),
    ("%^ab+c%", "ac", False),
    ("%^ab*c%", "ac", True),
    ("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "ip 192.168.1.1", True),
    ("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "ip 192.168.1", False),
    ("%[Ee]rror|[Ff]ail%", "Error: disk", True),
    ("%[Ee]rror|[Ff]ail%", "it will fail", True),
    ("%[Ee]rror|[Ff]ail%", "all is well", False),
    ("%ERROR.*timeout%", "ERROR after 5s: timeout", True),
    ("%ERROR.*timeout%", "timeout then ERROR", False),
    ("%x\\x28y\\x29%", "call x(y)", True),
    ("%\\s+%", "a b", True),
    ("%\\s+%", "ab", False),
    ("%\\w+@\\w+\\.com%", "mail bob@example.com", True),
    ("%end$%", "the end\n", True),
    ("%^$%", "", True),
    ("%^$%", "x", False),
    ("%a.c%", "a\nc", False),
    ("%a.c%", "aéc", True),
    ("%user=\\w+;id=\\d+%", "user=bob;id=42", True),
    ("%#/@,:-%", "x #/@,:- y", True),
    ("%a*a*a*a*a*b%", "a" * 20_000, False),
]

MATCHES = TEXT + JSON + DELIMITED + REGEX


def _id(case: tuple[str, str, bool]) -> str:
    pattern, line, expected = case
    return f"{pattern[:60]} {'~' if expected else '!~'} {line[:40]!r}"


@pytest.mark.parametrize(("pattern", "line", "expected"), MATCHES, ids=[_id(c) for c in MATCHES])
def test_patterns_match_the_lines_aws_documents(pattern, line, expected):
    parsed = filter_patterns.parse(pattern)
    assert parsed.matches(line) is expected
    assert (parsed.match(line) is not None) is expected


# ---- errors -----------------------------------------------------------------------------------

BAD_TERM = "Invalid character(s) in term '{}'"
INVALID = "Invalid filter pattern"

ERRORS = [
    ("Status:", BAD_TERM.format(":")),
    ("?Status: timeout", BAD_TERM.format(":")),
    ("user@example.com", BAD_TERM.format("@.")),
    ("[ERROR] x", "If a filter pattern starts with '[' it must end with ']'"),
    ("x [ERROR]", BAD_TERM.format("[]")),
    ("50%_ok", BAD_TERM.format("%")),
    ("%ERROR% x", BAD_TERM.format("%")),
    ('""', BAD_TERM.format('""')),
    ('"unterminated', BAD_TERM.format('"')),
    ("a\\b", BAD_TERM.format("\\")),
    ("`ERROR`", BAD_TERM.format("`")),
    ("ERROR -", INVALID),
    ("?-ERROR", INVALID),
    ("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'"),
    ('{ $.a = "x" } extra', "If a filter pattern starts with '{' it must end with '}'"),
    ("[a, b", "If a filter pattern starts with '[' it must end with ']'"),
    ("{ }", INVALID),
    ("{}", INVALID),
    ('{ $."sc-status" = 5* }', BAD_TERM.format('$."')),
    (
        '{ $.message = "error-response", $.path = "/authenticate" }',
        BAD_TERM.format(","),
    ),
    ("{ status = 401 }", INVALID),
    ("{ $ = 1 }", BAD_TERM.format("$")),
    ("{ $[0] = 1 }", BAD_TERM.format("$[]")),
    ("{ $.a[*] = 1 }", BAD_TERM.format("$.[*]")),
    ("{ $.a = $.b }", BAD_TERM.format("$")),
    ("{ $.a = user@example.com }", BAD_TERM.format("@")),
    ("{ $.a = 10/Oct/2000 }", BAD_TERM.format("/")),
    ("{ $.a > abc }", INVALID),
    ('{ $.a >= "5" }', INVALID),
    ("{ $.a == 1 }", INVALID),
    ("{ $.a = 1 && }", INVALID),
    ("{ $.a = 1 $.b = 2 }", INVALID),
    ("{ ($.a = 1 }", INVALID),
    ("{ $.a = 1) }", INVALID),
    ("{ $.a IS MAYBE }", INVALID),
    ("{ $.a EXISTS }", INVALID),
    ("{ !($.a = 1) }", BAD_TERM.format("!")),
    ("{ $.a = 1 & $.b = 2 }", BAD_TERM.format("&")),
    ("{ $.a = %a% && $.b = %b% && $.c = %c% }", INVALID),
    ("{ $.a = %(x)% }", BAD_TERM.format("()")),
    ("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]", INVALID),
    ("[a, ..., b, ...]", INVALID),
    ("[]", INVALID),
    ("[ ]", INVALID),
    ("[a = ]", INVALID),
    ("[a b]", INVALID),
    ("[a@b]", BAD_TERM.format("@")),
    ("[a > x]", INVALID),
    ("[a = %x%, b = %y%, c = %z%]", INVALID),
    ("%something!%", BAD_TERM.format("!")),
    ("%(a|b)%", BAD_TERM.format("()")),
    ("%Failed to%", BAD_TERM.format(" ")),
    ("%café%", BAD_TERM.format("é")),
    ("%%", INVALID),
    ("%*a%", INVALID),
    ("%a**%", INVALID),
    ("%a*+%", INVALID),
    ("%^*%", INVALID),
    ("%[a%", INVALID),
    ("%[]%", INVALID),
    ("%[z-a]%", INVALID),
    ("%a{2%", INVALID),
    ("%a{x}%", INVALID),
    ("%a{3,2}%", INVALID),
    ("%a{1001}%", INVALID),
    ("%\\b%", INVALID),
    ("%\\1%", INVALID),
    ("%\\x4%", INVALID),
    ("%a\\%", INVALID),
    ("x" * 1025, INVALID),
    ("{ " + "(" * 100 + "$.a = 1" + ")" * 100 + " }", INVALID),
]


@pytest.mark.parametrize(("pattern", "message"), ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_invalid_patterns_get_cloudwatchs_answer(pattern, message):
    with pytest.raises(InvalidParameter) as raised:
        filter_patterns.parse(pattern)
    assert raised.value.code == "InvalidParameterException"
    assert str(raised.value) == message


def test_a_pattern_of_the_longest_length_parses():
    assert filter_patterns.parse("a" * 1024).matches("a" * 1024)
    nested = "{ " + "(" * 60 + "$.a = 1" + ")" * 60 + " }"
    assert filter_patterns.parse(nested).matches('{"a": 1}')


# ---- values for metric filters -----------------------------------------------------------------


def test_json_matches_hand_back_the_selected_values():
    pattern = filter_patterns.parse("{ $.latency = * }")
    found = pattern.match(
        '{"latency": 812.50, "svc": "api", "ok": true, "o": {"a": 1}, "n": null,'
        ' "list": [{"id": "x"}]}'
    )
    assert found is not None
    assert found.value("$.latency") == "812.50"
    assert found.value("$.svc") == "api"
    assert found.value("$.ok") == "true"
    assert found.value("$.list[0].id") == "x"
    assert found.value("$.o") is None
    assert found.value("$.n") is None
    assert found.value("$.missing") is None
    assert found.value("latency") is None
    assert found.extracted_values == {}
    assert pattern.can_extract("$.latency") and pattern.can_extract("$.a[2].b")
    assert not pattern.can_extract("$latency") and not pattern.can_extract("$.a[*]")


def test_space_delimited_matches_extract_fields_as_test_metric_filter_reports_them():
    pattern = filter_patterns.parse("[..., request=*.html*, status_code=4*,]")
    found = pattern.match(MISSING)
    assert found is not None
    assert found.extracted_values == {
        "$1": "127.0.0.1",
        "$2": "-",
        "$3": "frank",
        "$4": "10/Oct/2000:13:50:35 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$7": "1534",
    }
    assert found.value("$status_code") == "404"
    assert found.value("$5") == "GET /index.html HTTP/1.0"
    assert found.value("$8") is None
    assert found.value("$size") is None
    assert pattern.can_extract("$status_code") and pattern.can_extract("$7")
    assert not pattern.can_extract("$size") and not pattern.can_extract("$.status_code")


def test_a_named_field_is_a_metric_value():
    pattern = filter_patterns.parse(ALL_SEVEN)
    found = pattern.match(FAILED)
    assert found is not None and found.value("$bytes") == "5324"
    assert pattern.can_extract("$bytes") and pattern.can_extract("$7")
    assert not pattern.can_extract("$8") and not pattern.can_extract("$0")


@pytest.mark.parametrize("pattern", ["", "ERROR", "%ERR%"])
def test_unstructured_matches_name_no_values(pattern):
    parsed = filter_patterns.parse(pattern)
    found = parsed.match("ERROR 42")
    assert found is not None
    assert found.extracted_values == {} and found.value("$1") is None
    assert not parsed.can_extract("$.a") and not parsed.can_extract("$1")


@pytest.mark.parametrize(
    ("pattern", "kind", "exact"),
    [
        ("", "all", True),
        ("ERROR -x", "text", True),
        ("%x%", "regex", False),
        ("{ $.a = 1 }", "json", False),
        ("[a, b]", "delimited", False),
    ],
)
def test_only_text_patterns_are_decided_in_sql(pattern, kind, exact):
    parsed = filter_patterns.parse(pattern)
    assert parsed.kind == kind
    assert parsed.exact_in_sql is exact
