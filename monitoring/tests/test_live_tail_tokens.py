"""Live-tail grants: signed, bound to a user, valid for an hour from their issue and not
before it (the clock is passed in, never slept on)."""

from __future__ import annotations

from django.core import signing

from monitoring import live

ISSUED = 1_700_000_000.0


def _token() -> str:
    return live.token_for("123456789012", "/aws/lambda/f", user_id=7, key_id="AKIA1", now=ISSUED)


def test_a_grant_is_valid_from_its_issue_to_the_end_of_its_hour():
    token = _token()
    for now in (ISSUED, ISSUED + 1, ISSUED + live.TOKEN_MAX_AGE_SECONDS):
        grant = live.token_grant(token, now=now)
        assert grant == live.Grant("123456789012", "/aws/lambda/f", 7, "AKIA1")


def test_a_grant_past_its_hour_or_from_the_future_is_refused():
    token = _token()
    assert live.token_grant(token, now=ISSUED + live.TOKEN_MAX_AGE_SECONDS + 1) is None
    assert live.token_grant(token, now=ISSUED - 1) is None


def test_a_grant_with_a_changed_group_or_no_issue_time_is_refused():
    token = _token()
    payload, _, signature = token.partition(":")
    forged = signing.dumps({"a": "123456789012", "g": "/aws/lambda/other", "u": 7}, salt="x")
    assert live.token_grant(forged, now=ISSUED) is None
    assert live.token_grant(payload + ":" + signature[::-1], now=ISSUED) is None
    timeless = signing.dumps(
        {"a": "123456789012", "g": "/aws/lambda/f", "u": 7, "k": None}, salt=live._TOKEN_SALT
    )
    assert live.token_grant(timeless, now=ISSUED) is None


def test_a_grant_issued_with_the_real_clock_is_valid_now():
    token = live.token_for("123456789012", "/aws/lambda/f", user_id=7)
    assert live.token_grant(token) is not None
