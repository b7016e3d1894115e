"""The console's metrics API: session-authenticated, scoped to the user's account."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client

from functions.tests.factories import function_row
from iam import services as accounts
from monitoring.metrics.recorder import MetricsRecorder, recorder, series_keys

pytestmark = pytest.mark.django_db

URL = "/_functory/api/metrics"


def _signed_in(account_id: str, username: str) -> Client:
    account = accounts.account_get_or_create(account_id)
    accounts.user_create(username=username, account=account, password="pass-word-1", is_admin=True)
    client = Client()
    assert (
        client.post("/login/", {"username": username, "password": "pass-word-1"}).status_code == 302
    )
    return client


def _window() -> tuple[str, str, int]:
    minute = int(time.time()) // 60 * 60
    start = dt.datetime.fromtimestamp(minute - 120, dt.UTC).isoformat()
    end = dt.datetime.fromtimestamp(minute + 60, dt.UTC).isoformat()
    return start, end, minute


def test_the_owner_reads_aligned_per_minute_values(monkeypatch):
    monkeypatch.setattr(recorder, "_background", False)  # no flusher thread in this process
    client = _signed_in("100000000001", "owner")
    owner = accounts.account_get_or_create("100000000001")
    function_row(owner, "hello")
    keys = series_keys(owner.id, "hello", None)
    # Recorded by this process and not flushed: the API flushes before it reads.
    recorder.invocation(keys, duration_ms=12.5, error=False)
    recorder.invocation(keys, duration_ms=20.0, error=True)
    start, end, minute = _window()

    response = client.get(
        URL, {"function": "hello", "metric": "Invocations", "start": start, "end": end}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timestamps"] == [
        dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for t in (minute - 120, minute - 60, minute)
    ]
    assert body["values"][:2] == [0, 0]
    assert sum(body["values"]) == 2  # in the last minute, or the one before if it just turned
    assert (body["unit"], body["stat"], body["period"], body["resolution"]) == (
        "Count",
        "Sum",
        60,
        60,
    )

    duration = client.get(
        URL,
        {"function": "hello", "metric": "Duration", "stat": "Maximum", "start": start, "end": end},
    ).json()
    assert max(v for v in duration["values"] if v is not None) == 20.0
    account_wide = client.get(URL, {"metric": "Errors", "start": start, "end": end}).json()
    assert sum(account_wide["values"]) == 1


def test_another_accounts_function_is_not_found():
    owner = accounts.account_get_or_create("100000000002")
    function_row(owner, "private")
    owners = MetricsRecorder(background=False)
    owners.invocation(series_keys(owner.id, "private", None), duration_ms=1, error=False)
    owners.flush()
    intruder = _signed_in("100000000003", "intruder")
    start, end, _ = _window()
    for function in ("private", "arn:aws:lambda:us-east-1:100000000002:function:private"):
        response = intruder.get(URL, {"function": function, "metric": "Invocations"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFoundException"
    # The intruder's own account-wide series does not include the owner's invocations.
    values = intruder.get(URL, {"metric": "Invocations", "start": start, "end": end}).json()[
        "values"
    ]
    assert set(values) == {0}


def test_it_requires_a_console_session():
    response = Client().get(URL, {"metric": "Invocations"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NotAuthenticated"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "metric must be one of"),
        ({"metric": "Bogus"}, "metric must be one of"),
        (
            {"metric": "Invocations", "stat": "p99"},
            "Statistic p99 is not available for Invocations",
        ),
        ({"metric": "Duration", "stat": "p100"}, "Statistic p100 is not available for Duration"),
        ({"metric": "Duration", "period": "90"}, "period must be a positive multiple of 60"),
        ({"metric": "Duration", "period": "soon"}, "period must be a whole number"),
        ({"metric": "Duration", "start": "yesterday"}, "start must be an ISO 8601 timestamp"),
        (
            {"metric": "Duration", "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
            "start must be before end",
        ),
        (
            {"metric": "Duration", "period": "60", "start": "2020-01-01T00:00:00Z"},
            "period must be a multiple of 3600 seconds for data older than 63 days",
        ),
        (
            {
                "metric": "Duration",
                "period": "60",
                "start": "2030-01-01T00:00:00Z",
                "end": "2030-01-03T00:00:00Z",
            },
            "Too many datapoints",
        ),
        ({"metric": "Duration", "qualifier": "live"}, "qualifier must be a version or alias"),
        ({"metric": "Duration", "function": "hello", "qualifier": "a/b"}, "qualifier must be"),
    ],
)
def test_bad_input_is_a_clear_400(params, message):
    client = _signed_in("100000000004", "careless")
    function_row(accounts.account_get_or_create("100000000004"), "hello")
    response = client.get(URL, params)
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "InvalidParameterValueException"
    assert message in body["message"]
