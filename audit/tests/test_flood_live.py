"""A flood of unauthenticated calls against a live server adds a bounded number of rows:
each minute, at most FUNCTORY_AUDIT_UNAUTHENTICATED_PER_MINUTE aggregated rows and one
counting the rest, whatever the flood's rate; every call is still counted."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import Credentials, client_for, run_server

pytestmark = pytest.mark.live

FLOOD = 300
BUDGET = 5


def _unsigned_call(url: str, key_id: str) -> int:
    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/",
        headers={
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={key_id}/20261205/us-east-1/lambda/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
            ),
            "X-Amz-Date": "20261205T000000Z",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_an_unauthenticated_flood_adds_a_bounded_number_of_rows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    servers = run_server(
        tmp_path_factory, {"FUNCTORY_AUDIT_UNAUTHENTICATED_PER_MINUTE": str(BUDGET)}
    )
    server = next(servers)
    try:
        statuses = {
            _unsigned_call(server.url, f"AKIA{uuid.uuid4().hex[:16].upper()}") for _ in range(FLOOD)
        }
        assert all(status >= 400 for status in statuses)
        result = server.manage("createuser", "boss", "--admin", "--access-key")
        data = json.loads(result.stdout.strip().splitlines()[-1])
        admin = Credentials(
            data["AccountId"], data["UserName"], data["AccessKeyId"], data["SecretAccessKey"]
        )
        # A lookup stores everything this server process buffered, the open minute included.
        client_for(server, admin, "cloudtrail").lookup_events()
        dump = server.manage("dumpdata", "audit")
        rows = [row["fields"] for row in json.loads(dump.stdout)]
        nobodys = [row for row in rows if row["account_id"] == ""]
        # One minute's budget and its over-budget row; twice if the flood crossed a minute.
        assert len(nobodys) <= 2 * (BUDGET + 1)
        assert sum(row["count"] for row in nobodys) == FLOOD
        assert any(row["event_name"] == "UnauthenticatedCallsNotRecorded" for row in nobodys)
    finally:
        with pytest.raises(StopIteration):
            next(servers)
