"""The rules of function URLs on their own: the event, the response mapping, CORS, who a
resource policy lets in, and how a request is routed (no server, no sandbox)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from functions import resource_policies
from functions.services.policies import build_statement
from iam.models import Account
from iam.policy import Principal
from iam.policy.context import ContextValue
from invocations import urlhttp, urlserver
from invocations.selectors import ANONYMOUS, UrlTarget, url_access_allowed
from invocations.urlhttp import InvalidFunctionResponse, RequestFacts, map_result

URL_ID = "a" * 32
RESOURCE = "arn:aws:lambda:us-east-1:111111111111:function:f"


def facts(**overrides: Any) -> RequestFacts:
    values: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/",
        "raw_query": "",
        "headers": [],
        "body": b"",
        "protocol": "HTTP/1.1",
        "source_ip": "10.0.0.1",
    }
    values.update(overrides)
    return RequestFacts(**values)


def event(request: RequestFacts, **kwargs: Any) -> dict[str, Any]:
    return urlhttp.build_event(
        request,
        account_id="111111111111",
        url_id=URL_ID,
        domain_name="d",
        request_id="r",
        epoch_ms=1583348638390,
        **kwargs,
    )


# -- event ----------------------------------------------------------------------------------


def test_the_time_is_in_aws_format():
    assert urlhttp.aws_time(1583348638390) == "04/Mar/2020:19:03:58 +0000"


def test_repeated_query_keys_are_comma_joined_and_decoded():
    assert urlhttp.query_parameters("a=1&a=2&b=x+y&c=%26&&d") == {
        "a": "1,2",
        "b": "x y",
        "c": "&",
        "d": "",
    }


def test_header_names_are_lower_cased_and_repeats_joined():
    built = event(facts(headers=[("X-A", "1"), ("x-a", "2"), ("Host", "h")]))
    assert built["headers"] == {
        "x-a": "1,2",
        "host": "h",
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
    }


def test_forwarding_headers_cannot_be_forged():
    forged = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "gopher")]
    headers = event(facts(headers=forged, scheme="http", port=8000))["headers"]
    assert headers["x-forwarded-for"] == "1.2.3.4, 10.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == "8000"


def test_cookie_headers_become_the_cookies_list():
    built = event(facts(headers=[("Cookie", "a=1; b=2"), ("cookie", "c=3")]))
    assert built["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in built["headers"]


def test_an_anonymous_request_has_no_authorizer():
    built = event(facts())
    assert "authorizer" not in built["requestContext"]
    assert built["requestContext"]["accountId"] == "anonymous"
    assert built["isBase64Encoded"] is False and "body" not in built


def test_a_signed_request_carries_the_iam_identity():
    iam = {"accessKey": "AKIA", "accountId": "222222222222"}
    built = event(facts(), iam=iam)
    assert built["requestContext"]["authorizer"] == {"iam": iam}
    assert built["requestContext"]["accountId"] == "111111111111"


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("text/html; charset=utf-8", True),
        ("application/vnd.api+json", True),
        ("application/x-www-form-urlencoded", False),
        ("application/octet-stream", False),
        (None, False),
    ],
)
def test_only_text_types_arrive_as_text(content_type, text):
    headers = [] if content_type is None else [("Content-Type", content_type)]
    built = event(facts(headers=headers, body=b"a=1"))
    assert built["isBase64Encoded"] is not text
    assert built["body"] == ("a=1" if text else base64.b64encode(b"a=1").decode())


# -- response -------------------------------------------------------------------------------


def test_a_result_without_status_code_is_the_json_body_as_returned():
    for payload in (b'"Hello, world!"', b'{"message":"hi"}', b"[1,2]", b"42", b"null"):
        answer = map_result(payload)
        assert answer.status == 200
        assert answer.headers == [("content-type", "application/json")]
        assert answer.body == payload


def test_a_structured_result_maps_every_field():
    answer = map_result(
        json.dumps(
            {
                "statusCode": 404,
                "headers": {"X-N": 1, "X-B": True, "Content-Length": "999"},
                "cookies": ["a=1; Secure"],
                "body": base64.b64encode(b"\x00\x01").decode(),
                "isBase64Encoded": True,
            }
        ).encode()
    )
    assert answer.status == 404
    assert ("x-n", "1") in answer.headers and ("x-b", "true") in answer.headers
    assert ("set-cookie", "a=1; Secure") in answer.headers
    # The length is the body's, whatever the function claimed.
    assert all(name != "content-length" for name, _ in answer.headers)
    assert answer.body == b"\x00\x01"


def test_a_non_string_body_is_sent_as_json():
    answer = map_result(b'{"statusCode": 200, "body": {"a": 1}}')
    assert answer.body == b'{"a":1}'


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "headers": {"x": "a\r\nb: c"}},
        {"statusCode": 200, "headers": {"bad name": "v"}},
        {"statusCode": 200, "headers": {"x": "\u2603"}},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "cookies": ["a=1\nb"]},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": []},
    ],
)
def test_an_unusable_structured_result_is_refused(result):
    with pytest.raises(InvalidFunctionResponse):
        map_result(json.dumps(result).encode())


def test_a_result_that_is_not_json_is_refused():
    with pytest.raises(InvalidFunctionResponse):
        map_result(b"\xff not json")


# -- CORS -----------------------------------------------------------------------------------

CORS = {
    "AllowOrigins": ["https://a.example"],
    "AllowMethods": ["GET"],
    "AllowHeaders": ["x-h"],
    "MaxAge": 10,
}


def test_a_preflight_needs_origin_method_and_headers_allowed():
    ok = urlhttp.preflight(
        CORS,
        {
            "origin": "https://a.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "X-H",
        },
    )
    assert ("access-control-allow-origin", "https://a.example") in ok.headers
    upper = urlhttp.preflight(
        CORS, {"origin": "HTTPS://A.example", "access-control-request-method": "GET"}
    )
    assert ("access-control-allow-origin", "HTTPS://A.example") in upper.headers
    assert ("access-control-max-age", "10") in ok.headers
    for refused in (
        {"origin": "https://b.example", "access-control-request-method": "GET"},
        {"origin": "https://a.example", "access-control-request-method": "DELETE"},
        {
            "origin": "https://a.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "x-other",
        },
    ):
        assert urlhttp.preflight(CORS, refused).headers == []


def test_a_wildcard_origin_is_echoed_when_credentials_are_allowed():
    cors = {"AllowOrigins": ["*"], "AllowCredentials": True}
    headers = urlhttp.cors_headers(cors, "https://x.example")
    assert ("access-control-allow-origin", "https://x.example") in headers
    assert urlhttp.cors_headers({"AllowOrigins": ["*"]}, "https://x.example")[0] == (
        "access-control-allow-origin",
        "*",
    )


def test_without_cors_an_options_request_goes_to_the_function():
    headers = {"origin": "o", "access-control-request-method": "GET"}
    assert not urlhttp.is_preflight("OPTIONS", headers, {})
    assert urlhttp.is_preflight("OPTIONS", headers, CORS)


# -- resource policy ------------------------------------------------------------------------


def statement(principal: str, action: str, **params: Any) -> dict[str, Any]:
    return build_statement(
        RESOURCE,
        {"StatementId": action.split(":")[1], "Principal": principal, "Action": action, **params},
    )


def url(statements: list[dict[str, Any]], auth_type: str) -> UrlTarget:
    return UrlTarget(
        url_id=URL_ID,
        account=Account(id="111111111111"),
        function_name="f",
        qualifier=None,
        auth_type=auth_type,
        cors={},
        invoke_mode="BUFFERED",
        policy=resource_policies.statements_policy(statements, "function|f"),
    )


KEYS: dict[str, ContextValue] = {"aws:SourceIp": "203.0.113.7", "aws:SecureTransport": True}


def request_keys() -> dict[str, ContextValue]:
    return KEYS


def no_request_keys() -> dict[str, ContextValue]:
    raise AssertionError("a policy that names no request key needs none")


OTHER = Principal("arn:aws:iam::222222222222:user/ann", "222222222222", "user")
THIRD = Principal("arn:aws:iam::333333333333:user/bo", "333333333333", "user")
OWNER = Principal("arn:aws:iam::111111111111:user/me", "111111111111", "user")


def public(statements: list[dict[str, Any]], auth_type: str = "NONE") -> bool:
    return url_access_allowed(url(statements, auth_type), ANONYMOUS, request_keys)


def public_statements() -> list[dict[str, Any]]:
    return [
        statement("*", "lambda:InvokeFunctionUrl", FunctionUrlAuthType="NONE"),
        statement("*", "lambda:InvokeFunction", InvokedViaFunctionUrl=True),
    ]


def test_a_public_url_needs_both_actions_for_everyone():
    url_action, invoke = public_statements()
    assert public([url_action, invoke])
    assert not public([url_action])
    assert not public([invoke])
    assert not public([])
    # The statement names the other auth type: it does not apply.
    assert not public([url_action, invoke], "AWS_IAM")


def test_an_account_principal_opens_an_iam_url_to_that_account_only():
    target = url(
        [
            statement("222222222222", "lambda:InvokeFunctionUrl", FunctionUrlAuthType="AWS_IAM"),
            statement("222222222222", "lambda:InvokeFunction"),
        ],
        "AWS_IAM",
    )
    assert url_access_allowed(target, OTHER, request_keys)
    assert not url_access_allowed(target, THIRD, request_keys)
    assert not url_access_allowed(target, ANONYMOUS, request_keys)
    # The owner's own callers need nothing of the policy (their own policies decide).
    assert url_access_allowed(url([], "AWS_IAM"), OWNER, request_keys)
    assert not url_access_allowed(url([], "AWS_IAM"), OTHER, request_keys)


def test_statements_with_conditions_a_url_request_cannot_meet_do_not_apply():
    conditioned = [
        statement("*", "lambda:InvokeFunctionUrl", SourceArn="arn:aws:s3:::b"),
        statement("*", "lambda:InvokeFunction", SourceAccount="222222222222"),
    ]
    assert not public(conditioned)


def test_a_deny_in_the_policy_refuses_even_what_another_statement_allows():
    denied = {**statement("*", "lambda:InvokeFunctionUrl"), "Sid": "no", "Effect": "Deny"}
    assert not public([*public_statements(), denied])
    # ...and the owner's own callers too, whatever their own policies say.
    assert not url_access_allowed(
        url([*public_statements(), denied], "AWS_IAM"), OWNER, request_keys
    )


def test_one_statement_may_grant_both_actions_and_any_operator_applies():
    both = {
        "Sid": "both",
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::222222222222:root", "333333333333"]},
        "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
        "Resource": RESOURCE,
        "Condition": {"StringEqualsIfExists": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
    }
    target = url([both], "AWS_IAM")
    assert url_access_allowed(target, OTHER, request_keys)
    assert url_access_allowed(target, THIRD, request_keys)
    # A statement of lambda:* and a wildcard resource grants both as well.
    wide = {"Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": "*"}
    assert public([wide])


def test_the_request_s_source_address_is_a_condition_key():
    from_office = [
        {**s, "Condition": {**s["Condition"], "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
        for s in public_statements()
    ]
    assert public(from_office)
    elsewhere = url(from_office, "NONE")
    assert not url_access_allowed(
        elsewhere, ANONYMOUS, lambda: {**KEYS, "aws:SourceIp": "198.51.100.1"}
    )


def test_a_policy_naming_no_request_key_is_decided_without_the_request_s_keys():
    target = url(public_statements(), "NONE")
    assert url_access_allowed(target, ANONYMOUS, no_request_keys)
    assert url_access_allowed(target, ANONYMOUS, no_request_keys)  # decided once, kept
    assert not url_access_allowed(url([], "NONE"), ANONYMOUS, no_request_keys)
    assert url_access_allowed(url([], "AWS_IAM"), OWNER, no_request_keys)


def test_a_statement_for_another_qualifier_does_not_open_the_url():
    alias = {**public_statements()[0], "Resource": f"{RESOURCE}:live"}
    assert not public([alias, public_statements()[1]])


# -- routing --------------------------------------------------------------------------------


def scope(path: str, host: str = "127.0.0.1:8000", raw: bytes | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "path": path,
        "raw_path": raw if raw is not None else path.encode(),
        "headers": [(b"host", host.encode())],
    }


def test_the_path_form_is_routed_with_the_rest_as_raw_path(settings):
    settings.FUNCTORY_URL_DOMAIN = ""
    route = urlserver.route(scope(f"/lambda-url/{URL_ID}/a%2Fb/c"))
    assert route == urlserver.UrlRoute(URL_ID, "/a%2Fb/c", "127.0.0.1:8000", path_form=True)
    bare = urlserver.route(scope(f"/lambda-url/{URL_ID}"))
    assert bare is not None and bare.raw_path == "/"
    assert urlserver.route(scope("/2015-03-31/functions/f/invocations")) is None
    assert urlserver.route(scope("/lambda-urlx/")) is None
    # Without a URL domain, a host that looks like one is not a URL.
    assert urlserver.route(scope("/", host=f"{URL_ID}.lambda-url.us-east-1.fn.test")) is None


def test_any_host_under_the_url_domain_is_a_url_request(settings):
    settings.FUNCTORY_URL_DOMAIN = "Fn.Test"
    route = urlserver.route(scope("/p", host=f"{URL_ID.upper()}.LAMBDA-URL.us-east-1.fn.test:443"))
    assert route == urlserver.UrlRoute(URL_ID, "/p", f"{URL_ID}.lambda-url.us-east-1.fn.test")
    nested = urlserver.route(scope("/", host=f"x.{URL_ID}.lambda-url.us-east-1.fn.test"))
    assert nested is not None and nested.url_id == f"x.{URL_ID}"
    # Another region's URLs are not served here; the API host is not a URL.
    assert urlserver.route(scope("/", host=f"{URL_ID}.lambda-url.eu-west-1.fn.test")) is None
    assert urlserver.route(scope("/", host="fn.test")) is None
