"""A tenant guessing passwords and bending signatures (issue 10, items 9 and 10).

Console sign-in is locked out per (user name, address) after a few failures, passwords must
pass Django's validators wherever they are set, a SigV4 signature only counts for this
server's region, the API called and the body actually sent, and a key id hammered with bad
signatures gets the service's throttling error while its owner's requests still pass.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory

from awsapi.errors import AWSError
from conftest import Credentials, LiveServer, client_for, create_user
from console.tests.raw_http import RawResponse, send
from iam import authentication, services
from iam.models import User

FUNCTIONS = "/2015-03-31/functions"
LOGS_TARGET = "Logs_20140328.DescribeLogGroups"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
HASH_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
LOCKED_OUT = "Too many failed sign-in attempts."


# --- console sign-in -------------------------------------------------------------------


class _Browser:
    """Just enough of a browser for Django's login form: the CSRF cookie and token, and
    the session cookie a successful sign-in sets. Redirects are not followed."""

    def __init__(self, server: LiveServer) -> None:
        url = urlsplit(server.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    cookie = value.split(";", 1)[0]
                    key, _, val = cookie.partition("=")
                    self.cookies[key] = val
            page = response.read().decode()
            return response.status, page
        finally:
            conn.close()

    def sign_in(self, username: str, password: str) -> tuple[int, str]:
        if not self.token:
            status, page = self.request("GET", "/login/")
            assert status == 200
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            assert found is not None
            self.token = found[1]
        form = {"csrfmiddlewaretoken": self.token, "username": username, "password": password}
        return self.request("POST", "/login/", form)


def _console_user(functory: LiveServer, password: str) -> str:
    name = f"login-{uuid.uuid4().hex[:8]}"
    result = functory.manage("createuser", name, "--password", password)
    assert result.returncode == 0, result.stderr
    return name


@pytest.mark.live
def test_forty_wrong_passwords_then_the_right_one_is_still_locked_out(
    functory: LiveServer,
) -> None:
    password = "correct-horse-battery"
    name = _console_user(functory, password)
    browser = _Browser(functory)

    status, page = browser.sign_in(name, "wrong-guess-0")
    assert status == 200
    assert "didn't match" in page
    statuses = [browser.sign_in(name, f"wrong-guess-{i}")[0] for i in range(1, 40)]
    # The fifth failure locks the pair out: the sign-in page, saying so, with 429.
    assert statuses[:3] == [200] * 3
    assert set(statuses[3:]) == {429}

    status, page = browser.sign_in(name, password)
    assert status == 429
    assert LOCKED_OUT in page
    assert '<input name="password"' in page  # the sign-in page, not an error page
    assert "sessionid" not in browser.cookies
    assert browser.request("GET", "/")[0] == 302  # still signed out

    # The lockout is for this user name from this address: another user signs in.
    other = _console_user(functory, password)
    assert browser.sign_in(other, password)[0] == 302
    assert "sessionid" in browser.cookies


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("a", "This password is too short. It must contain at least 10 characters."),
        ("password1234", "This password is too common."),
        ("2718281828459045", "This password is entirely numeric."),
        ("weakling-99", "The password is too similar to the username."),
    ],
)
def test_createuser_refuses_a_weak_password(password: str, reason: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("createuser", "weakling-99", "--password", password, stdout=io.StringIO())
    assert reason in str(error.value)
    assert not User.objects.filter(username="weakling-99").exists()


@pytest.mark.django_db
def test_the_console_refuses_a_weak_password_with_the_validators_messages() -> None:
    account = services.account_get_or_create("444444444444")
    admin = services.user_create(
        username="boss", account=account, password="boss-password-1", is_admin=True
    )
    client = Client()
    client.force_login(admin)

    def create(name: str, password: str) -> Any:
        return client.post(
            "/account/users",
            json.dumps({"UserName": name, "Password": password}),
            content_type="application/json",
        )

    response = create("weak", "a")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "password"
    assert (
        "This password is too short. It must contain at least 10 characters." in (error["message"])
    )
    assert "This password is too common." in error["message"]
    assert not User.objects.filter(username="weak").exists()

    assert create("strong", "a-much-better-passphrase").status_code == 201
    assert User.objects.get(username="strong").check_password("a-much-better-passphrase")


# --- SigV4 scope and payload -----------------------------------------------------------


def _sign(
    server: LiveServer | str,
    creds: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    service: str = "lambda",
    region: str = "us-east-1",
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    base = server if isinstance(server, str) else server.url
    request = AWSRequest(
        method=method,
        url=base + path,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    credentials = BotoCredentials(creds.access_key_id, secret or creds.secret_access_key)
    SigV4Auth(credentials, service, region).add_auth(request)
    return dict(request.headers.items())


def _error(response: RawResponse) -> tuple[int, str | None, str]:
    return response.status, response.error_type, response.json()["message"]


def _logs_headers(**overrides: str) -> dict[str, str]:
    return {
        "X-Amz-Target": LOGS_TARGET,
        "Content-Type": "application/x-amz-json-1.1",
        **overrides,
    }


@pytest.mark.live
def test_a_signature_for_another_region_or_service_is_refused(
    functory: LiveServer, credentials: Credentials
) -> None:
    headers = _sign(functory, credentials, "GET", FUNCTIONS, region="eu-west-1")
    assert _error(send(functory, "GET", FUNCTIONS, headers=headers)) == (
        403,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    )
    headers = _sign(functory, credentials, "GET", FUNCTIONS, service="s3")
    assert _error(send(functory, "GET", FUNCTIONS, headers=headers)) == (
        403,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'lambda'. ",
    )
    both = _sign(functory, credentials, "GET", FUNCTIONS, service="s3", region="eu-west-1")
    assert _error(send(functory, "GET", FUNCTIONS, headers=both))[2] == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
        "Credential should be scoped to correct service: 'lambda'. "
    )

    # CloudWatch Logs wants 'logs', CloudWatch 'monitoring': a Lambda-scoped signature
    # opens neither.
    body = b"{}"
    headers = _sign(functory, credentials, "POST", "/", body, headers=_logs_headers())
    status, code, message = _error(send(functory, "POST", "/", body, headers))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message == "Credential should be scoped to correct service: 'logs'. "
    target = {"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics"}
    headers = _sign(functory, credentials, "POST", "/", body, service="logs", headers=target)
    response = send(functory, "POST", "/", body, headers)
    assert response.status == 403
    assert response.json()["message"] == (
        "Credential should be scoped to correct service: 'monitoring'. "
    )


@pytest.mark.live
def test_unsigned_payload_with_an_altered_body_is_refused(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    signed_body = json.dumps({"FunctionName": "harmless"}).encode()
    altered = json.dumps({"FunctionName": "evil"}).encode()
    headers = _sign(
        functory,
        credentials,
        "POST",
        FUNCTIONS,
        signed_body,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    for body in (altered, signed_body):
        assert _error(send(functory, "POST", FUNCTIONS, body, headers)) == (
            403,
            "InvalidSignatureException",
            HASH_MISMATCH,
        )
    assert lam.list_functions()["Functions"] == []


@pytest.mark.live
@pytest.mark.parametrize(
    ("service", "target"),
    [
        ("logs", LOGS_TARGET),
        ("monitoring", "GraniteServiceVersion20100801.GetMetricStatistics"),
    ],
)
def test_a_content_hash_other_than_the_bodys_own_is_refused(
    functory: LiveServer, credentials: Credentials, service: str, target: str
) -> None:
    body = b"{}"

    def with_hash(content_hash: str) -> RawResponse:
        headers = _sign(
            functory,
            credentials,
            "POST",
            "/",
            body,
            service=service,
            headers=_logs_headers(**{"X-Amz-Target": target, "X-Amz-Content-SHA256": content_hash}),
        )
        return send(functory, "POST", "/", body, headers)

    for wrong in (hashlib.sha256(b'{"other": true}').hexdigest(), "UNSIGNED-PAYLOAD"):
        response = with_hash(wrong)
        assert response.status == 403, response.body
        assert response.json()["message"] == HASH_MISMATCH
    # With the body's own hash the same request is answered by the service.
    assert with_hash(hashlib.sha256(body).hexdigest()).status != 403


# --- hammering with bad signatures -----------------------------------------------------


@pytest.mark.live
def test_a_key_hammered_with_bad_signatures_is_throttled_but_its_owner_is_not(
    functory: LiveServer,
) -> None:
    creds = create_user(functory)
    wrong_secret = "w" * 40
    answers: list[tuple[int, str | None, str]] = []
    # The limit is 20 failures a minute; stop at the first throttle (generous cap).
    for _ in range(80):
        headers = _sign(functory, creds, "GET", FUNCTIONS, secret=wrong_secret)
        answers.append(_error(send(functory, "GET", FUNCTIONS, headers=headers)))
        if answers[-1][0] == 429:
            break
    assert answers[-1] == (429, "TooManyRequestsException", "Rate exceeded")
    assert len(answers) > 20
    assert set(answers[:20]) == {(403, "InvalidSignatureException", BAD_SIGNATURE)}

    # AWS's shape: the Lambda model's TooManyRequestsException, for the CLI and SDKs.
    headers = _sign(functory, creds, "GET", FUNCTIONS, secret=wrong_secret)
    body = send(functory, "GET", FUNCTIONS, headers=headers).json()
    assert body == {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}
    # Invoke too (its key cache is filled by the first call: both of its paths).
    invoke = FUNCTIONS + "/nope/invocations"
    for _ in range(2):
        headers = _sign(functory, creds, "POST", invoke, b"{}", secret=wrong_secret)
        assert _error(send(functory, "POST", invoke, b"{}", headers))[:2] == (
            429,
            "TooManyRequestsException",
        )
    # CloudWatch Logs answers its own ThrottlingException for the same key.
    logs_headers = _sign(
        functory,
        creds,
        "POST",
        "/",
        b"{}",
        service="logs",
        secret=wrong_secret,
        headers=_logs_headers(),
    )
    assert _error(send(functory, "POST", "/", b"{}", logs_headers)) == (
        400,
        "ThrottlingException",
        "Rate exceeded",
    )

    # The owner, signing correctly, is not locked out, through raw HTTP and boto3.
    good = _sign(functory, creds, "GET", FUNCTIONS)
    assert send(functory, "GET", FUNCTIONS, headers=good).status == 200
    assert client_for(functory, creds).list_functions()["Functions"] == []
    assert client_for(functory, creds, "logs").describe_log_groups()["logGroups"] == []
    good = _sign(functory, creds, "POST", invoke, b"{}")
    assert send(functory, "POST", invoke, b"{}", good).error_type == "ResourceNotFoundException"


@pytest.mark.django_db
def test_unknown_key_ids_from_one_address_are_throttled_by_address(settings: Any) -> None:
    """Guessing key ids counts against the client's address (in process: the live server's
    tests all come from 127.0.0.1, so this one must not poison it)."""
    from awsapi import signature_throttle

    settings.FUNCTORY_SIGV4_FAILURE_LIMIT = 3
    signature_throttle.reset()
    factory = RequestFactory()

    def attempt(address: str) -> AWSError:
        key_id = "AKIA" + uuid.uuid4().hex[:16].upper()
        unknown = Credentials("000000000000", "nobody", key_id, "x" * 40)
        headers = _sign("http://testserver", unknown, "GET", FUNCTIONS)
        request = factory.get(FUNCTIONS, headers=headers, REMOTE_ADDR=address)
        with pytest.raises(AWSError) as error:
            authentication.verify(request, b"", service="lambda")
        return error.value

    codes = [attempt("203.0.113.9").code for _ in range(5)]
    assert codes == ["UnrecognizedClientException"] * 3 + ["TooManyRequestsException"] * 2
    # Another address is counted on its own.
    assert attempt("203.0.113.10").code == "UnrecognizedClientException"
    # A request naming no key at all tries nothing: answered as such, never throttled.
    anonymous = factory.get(FUNCTIONS, REMOTE_ADDR="203.0.113.9")
    with pytest.raises(AWSError) as error:
        authentication.verify(anonymous, b"", service="lambda")
    assert error.value.code == "MissingAuthenticationTokenException"
    signature_throttle.reset()


def test_on_the_scaled_profile_failures_are_counted_across_processes_in_redis() -> None:
    import redis

    from awsapi.signature_throttle import RedisCounter

    url = os.environ.get("FUNCTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    # Two counters stand for two server processes (or replicas) sharing REDIS_URL.
    first, second = RedisCounter(url), RedisCounter(url)
    subject = f"key:AKIATEST{uuid.uuid4().hex[:12].upper()}"
    assert [first.hit(subject, 60), second.hit(subject, 60), first.hit(subject, 60)] == [1, 2, 3]
    assert second.hit("key:AKIAOTHER" + uuid.uuid4().hex[:8].upper(), 60) == 1
