"""Per-minute metrics of real invocations (boto3 against the live server, real sandbox)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
import uuid
from dataclasses import dataclass

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
    created = functory.manage(
        "createuser", name, "--admin", "--password", password, "--account", account_id
    )
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


@dataclass(frozen=True)
class Call:
    """One invoke of the mix, bracketed by the client's clock (the server's, too: it runs on
    this machine). Its metrics are stamped with the minute the server saw it finish."""

    started: float
    ended: float
    qualifier: str
    error: bool
    cold: bool

    def minutes(self) -> set[int]:
        """The minutes it can have been counted in: one, unless it ran across a boundary."""
        return {int(self.started) // 60 * 60, int(self.ended) // 60 * 60}


def _invoke(lam, qualifier: str, fail: bool, cold: bool) -> Call:
    started = time.time()
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName="metered", Payload=json.dumps({"fail": fail}), **extra)
    ended = time.time()
    assert ("FunctionError" in response) == fail
    return Call(started, ended, qualifier, fail, cold)


def test_per_minute_series_match_a_known_mix_of_successes_and_errors(functory, lam, credentials):
    create_function(lam, "metered", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.publish_version(FunctionName="metered")
    # $LATEST starts one environment, version 1 another: errors do not retire them.
    calls = [
        _invoke(lam, "", fail, cold=i == 0)
        for i, fail in enumerate((False, False, True, False, True))
    ]
    calls.append(_invoke(lam, "1", False, cold=True))
    first_minute = min(min(call.minutes()) for call in calls)
    last_minute = max(max(call.minutes()) for call in calls)
    # Invokes run one after another, so at most one can straddle each minute boundary: where
    # it was counted is the one thing the client cannot know (see the placements below).
    # The minutes asked for: the mix's, bracketed by an empty one on each side.
    minutes = list(range(first_minute - 60, last_minute + 120, 60))

    session = _console_session(functory, credentials.account_id)

    def series(metric: str, stat: str | None = None, **params: str) -> list[float | None]:
        query = {
            "metric": metric,
            "period": "60",
            "start": dt.datetime.fromtimestamp(minutes[0], dt.UTC).isoformat(),
            "end": dt.datetime.fromtimestamp(minutes[-1] + 60, dt.UTC).isoformat(),
            **params,
        }
        if stat:
            query["stat"] = stat
        response = session.get(f"{functory.url}/_functory/api/metrics", params=query, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        stamps = [int(dt.datetime.fromisoformat(ts).timestamp()) for ts in body["timestamps"]]
        assert stamps == minutes
        return list(body["values"])

    def per_minute(counted: list[tuple[Call, int]], qualifier: str | None, what: str) -> list[int]:
        """What ``counted`` (each call with its minute) adds up to, minute by minute."""
        totals = dict.fromkeys(minutes, 0)
        for call, minute in counted:
            if qualifier is None or call.qualifier == qualifier:
                totals[minute] += {"calls": 1, "errors": call.error, "cold": call.cold}[what]
        return list(totals.values())

    # Each possible placement of the calls; the series of the function's invocations must be
    # one of them, and every other series must agree with that same one.
    placements = [
        list(zip(calls, chosen, strict=True))
        for chosen in itertools.product(*(sorted(call.minutes()) for call in calls))
    ]
    invocations = series("Invocations", function="metered")
    matching = [p for p in placements if per_minute(p, None, "calls") == invocations]
    assert len(matching) == 1, (invocations, calls)
    counted = matching[0]
    assert sum(invocations) == 6

    def expect(what: str, qualifier: str | None = None) -> list[int]:
        return per_minute(counted, qualifier, what)

    assert series("Errors", function="metered") == expect("errors")
    assert sum(expect("errors")) == 2
    assert series("ColdStarts", function="metered") == expect("cold")
    assert sum(expect("cold")) == 2
    assert series("Invocations", function="metered", qualifier="1") == expect("calls", "1")
    assert series("Errors", function="metered", qualifier="1") == expect("errors", "1")
    assert series("ColdStarts", function="metered", qualifier="1") == expect("cold", "1")
    assert series("Invocations") == expect("calls")  # account-wide (the account is fresh)
    assert series("Duration", "SampleCount", function="metered") == expect("calls")

    concurrency = [v for v in series("ConcurrentExecutions", function="metered") if v is not None]
    assert concurrency and max(concurrency) >= 1
    init = [v for v in series("InitDuration", "SampleCount", function="metered") if v]
    assert sum(init) == 2
    p99 = [v for v in series("Duration", "p99", function="metered") if v is not None]
    maximum = [v for v in series("Duration", "Maximum", function="metered") if v is not None]
    assert p99 and maximum and max(p99) <= max(maximum)
