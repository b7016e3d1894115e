"""Smaller leaks and defaults (issue 10, item 12): what one tenant can learn about another, and
what a browser or a network observer gets to see or replay.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import pytest
from django.test import Client

from conftest import ROOT, Credentials, LiveServer, client_for, create_function

# ---- user names are per account --------------------------------------------------------


def _createuser(server: LiveServer, name: str, account: str | None = None) -> Any:
    args = ["createuser", name, "--admin", "--access-key"] + (
        ["--account", account] if account else []
    )
    return server.manage(*args)


def test_a_user_name_taken_in_another_account_is_free_in_mine(functory: LiveServer) -> None:
    name = f"bob{uuid.uuid4().hex[:6]}"
    first = _createuser(functory, name)
    assert first.returncode == 0, first.stderr
    second = _createuser(functory, name)
    # Nothing about the other account's bob: the name is simply free here.
    assert second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["AccountId"] != b["AccountId"]
    assert a["UserName"] == b["UserName"] == name
    # Inside one account the name is still unique.
    again = _createuser(functory, name, a["AccountId"])
    assert again.returncode != 0
    assert "already exists in this account" in again.stderr
    # Both users work, each in its own account.
    for made in (a, b):
        creds = Credentials(made["AccountId"], name, made["AccessKeyId"], made["SecretAccessKey"])
        assert client_for(functory, creds).list_functions()["Functions"] == []


@pytest.mark.django_db
def test_the_console_creates_a_user_whose_name_exists_elsewhere() -> None:
    from iam import services

    elsewhere = services.account_get_or_create("310000000001")
    services.user_create(username="carol", account=elsewhere, password="Pw-elsewhere-1")
    mine = services.account_get_or_create("310000000002")
    services.user_create(username="root", account=mine, password="Pw-mine-12345", is_admin=True)
    client = Client()
    assert client.login(username="310000000002/root", password="Pw-mine-12345")
    response = client.post(
        "/account/users", {"UserName": "carol", "Password": "Pw-mine-carol1"}, "application/json"
    )
    assert response.status_code == 201, response.content
    # Each carol signs in to her own account, named by account id; the bare name is
    # ambiguous only when both passwords match, which they do not.
    for account, password in (
        ("310000000001", "Pw-elsewhere-1"),
        ("310000000002", "Pw-mine-carol1"),
    ):
        signed_in = Client()
        assert signed_in.login(username=f"{account}/carol", password=password)
        assert signed_in.get("/account/").context["user"].account_id == account
        assert Client().login(username="carol", password=password)
    assert not Client().login(username="310000000001/carol", password="Pw-mine-carol1")


# ---- code-download links -----------------------------------------------------------------


def test_a_code_location_shows_neither_the_account_nor_the_digest(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    name = f"loc-{uuid.uuid4().hex[:8]}"
    created = create_function(lam, name)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    digest = base64.b64decode(created["CodeSha256"]).hex()
    token = location.rsplit("/", 1)[1]
    readable = [location, *_decodings(token)]
    for text in readable:
        assert credentials.account_id not in text
        assert digest not in text.lower()
    # The link still works, for its ten minutes.
    with urllib.request.urlopen(location, timeout=30) as response:
        assert response.status == 200
        assert response.read()[:2] == b"PK"


def _decodings(token: str) -> list[str]:
    """Whatever a curious reader could decode from a token's parts."""
    out = []
    for part in re.split(r"[:.]", token):
        padded = part + "=" * (-len(part) % 4)
        try:
            out.append(base64.urlsafe_b64decode(padded).decode("latin-1"))
        except ValueError:
            continue
    return out


def test_a_code_location_token_expires_after_ten_minutes() -> None:
    from django.test import RequestFactory

    from functions import code_location

    issued = 1_700_000_000.0
    url = code_location.url_for(
        RequestFactory().get("/"), "123456789012", "ab" * 32, "f.zip", now=issued
    )
    token = url.rsplit("/", 1)[1]
    grant = ("123456789012", "ab" * 32, "f.zip")
    assert code_location.verify(token, now=issued) == grant
    assert code_location.verify(token, now=issued + code_location.MAX_AGE_SECONDS) == grant
    assert code_location.verify(token, now=issued + code_location.MAX_AGE_SECONDS + 1) is None
    assert code_location.verify(token[:-4] + "AAAA", now=issued) is None
    # Without a clock given, a link is checked against the current time: one issued now
    # holds, one issued more than ten minutes ago does not.
    fresh = code_location.url_for(RequestFactory().get("/"), "123456789012", "ab" * 32, "f.zip")
    assert code_location.verify(fresh.rsplit("/", 1)[1]) == grant
    assert code_location.verify(token) is None


# ---- browser hardening -----------------------------------------------------------------


def test_console_pages_carry_a_content_security_policy(functory: LiveServer) -> None:
    with urllib.request.urlopen(functory.url + "/login/", timeout=30) as response:
        headers = {name.lower(): value for name, value in response.getheaders()}
    policy = headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("value", ["1", "0"])
def test_secure_cookies_are_one_setting_away(value: str) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "FUNCTORY_SECURE_COOKIES": value,
        "FUNCTORY_HSTS_SECONDS": "31536000" if value == "1" else "0",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    secure = value == "1"
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        secure,
        secure,
        31536000 if secure else 0,
    ]


# ---- internal signatures ---------------------------------------------------------------


def _forward(body: bytes, signature: str) -> int:
    from awsapi import internal

    response = Client().post(
        "/_functory/internal/live",
        body,
        content_type="application/json",
        headers={internal.HEADER: signature},
    )
    return response.status_code


@pytest.mark.django_db
def test_an_internal_request_cannot_be_replayed_or_kept_for_later() -> None:
    import hashlib
    import hmac

    from django.conf import settings

    from awsapi import internal

    body = b"[]"
    signature = internal.signature(body)
    assert _forward(body, signature) == 204
    # The same request again (a captured one, sent by someone else) is refused.
    assert _forward(body, signature) == 403
    # A signature made two minutes ago, never used, is too old.
    assert _forward(body, internal.signature(body, now=time.time() - 120)) == 403
    # A bare HMAC of the body (no time, no nonce) is refused.
    bare = hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert _forward(body, bare) == 403


def test_the_nonce_memory_is_bounded_and_forgets_expired_nonces() -> None:
    from awsapi.internal import NonceMemory

    now = [1000.0]
    memory = NonceMemory(max_age=60, capacity=3, clock=lambda: now[0])
    assert all(memory.first_use(n) for n in ("a", "b", "c"))
    assert not memory.first_use("a")
    assert not memory.first_use("d")  # full: refuse rather than forget a live nonce
    now[0] += 121
    assert memory.first_use("d")
    assert len(memory._seen) == 1
