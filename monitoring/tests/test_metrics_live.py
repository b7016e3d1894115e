"""Per-minute metrics of real invocations (boto3 against the live server, real sandbox)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import requests

from conftest import create_function, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

APP = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return "ok"
"""


def _console_session(functory, account_id: str) -> requests.Session:
    """A browser-like session signed in to the console as a user of ``account_id``."""
    name, password = f"viewer-{uuid.uuid4().hex[:8]}", "console-pass-1"
    created = functory.manage("createuser", name, "--password", password, "--account", account_id)
    assert created.returncode == 0, created.stderr
    session = requests.Session()
    session.get(f"{functory.url}/login/", timeout=10)
    signed_in = session.post(
        f"{functory.url}/login/",
        data={
            "username": name,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{functory.url}/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302
    return session


def _wait_for_a_fresh_minute(room_s: float = 35) -> None:
    """Start at the top of a minute when little of it is left, so the mix fits in one."""
    into = time.time() % 60
    if into > 60 - room_s:
        time.sleep(60 - into + 0.5)


def test_per_minute_series_match_a_known_mix_of_successes_and_errors(functory, lam, credentials):
    create_function(lam, "metered", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.publish_version(FunctionName="metered")
    _wait_for_a_fresh_minute()
    first_minute = int(time.time()) // 60 * 60
    outcomes = []
    for fail in (False, False, True, False, True):
        response = lam.invoke(FunctionName="metered", Payload=json.dumps({"fail": fail}))
        outcomes.append("FunctionError" in response)
    versioned = lam.invoke(FunctionName="metered", Qualifier="1", Payload=b"{}")
    assert "FunctionError" not in versioned
    assert outcomes == [False, False, True, False, True]
    last_minute = int(time.time()) // 60 * 60

    session = _console_session(functory, credentials.account_id)

    def series(metric: str, stat: str | None = None, **params: str) -> list[float | None]:
        query = {
            "metric": metric,
            "period": "60",
            "start": dt.datetime.fromtimestamp(first_minute - 60, dt.UTC).isoformat(),
            "end": dt.datetime.fromtimestamp(last_minute + 120, dt.UTC).isoformat(),
            **params,
        }
        if stat:
            query["stat"] = stat
        response = session.get(f"{functory.url}/_functory/api/metrics", params=query, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["timestamps"]) == len(body["values"])
        return list(body["values"])

    # The mix's minute, bracketed by empty minutes. Should a slow machine spill the mix into
    # the next minute, the totals must still be exact.
    fits = first_minute == last_minute

    def check(metric: str, stat: str | None = None, **params: str) -> list[float | None]:
        values = series(metric, stat, **params)
        return values if fits else [sum(v or 0 for v in values)]

    def expect(total: int) -> list[int]:
        return [0, total, 0] if fits else [total]

    assert check("Invocations", function="metered") == expect(6)
    assert check("Errors", function="metered") == expect(2)
    # $LATEST starts one environment, version 1 another: errors do not retire them.
    assert check("ColdStarts", function="metered") == expect(2)
    assert check("Invocations", function="metered", qualifier="1") == expect(1)
    assert check("Errors", function="metered", qualifier="1") == expect(0)
    assert check("ColdStarts", function="metered", qualifier="1") == expect(1)
    assert check("Invocations") == expect(6)  # account-wide (the account is fresh)
    assert check("Duration", "SampleCount", function="metered") == expect(6)

    concurrency = [v for v in series("ConcurrentExecutions", function="metered") if v is not None]
    assert concurrency and max(concurrency) >= 1
    init = [v for v in series("InitDuration", "SampleCount", function="metered") if v]
    assert sum(init) == 2
    p99 = [v for v in series("Duration", "p99", function="metered") if v is not None]
    maximum = [v for v in series("Duration", "Maximum", function="metered") if v is not None]
    assert p99 and maximum and max(p99) <= max(maximum)
