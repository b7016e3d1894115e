"""The server's endpoint for its own worker's attempts (embedded profile): only requests
signed with the server's secret are run; errors come back as AWS errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from awsapi import internal
from iam.models import Account
from invocations import remote
from invocations.tests.factories import async_invocation_row

pytestmark = pytest.mark.django_db

URL = "/_functory/internal/invoke"


def _post(body: bytes, signature: str | None) -> tuple[int, bytes]:
    headers = {} if signature is None else {internal.HEADER: signature}
    response = Client().post(URL, body, content_type="application/json", headers=headers)
    return response.status_code, response.content


def test_an_unsigned_or_wrongly_signed_attempt_is_refused() -> None:
    account = Account.objects.create(id="123456789012")
    body = remote.request_body([async_invocation_row(account)])
    assert _post(body, None)[0] == 403
    assert _post(body, "0" * 64)[0] == 403
    # A signature is for one body only.
    assert _post(body + b" ", internal.signature(body))[0] == 403


def test_a_signed_attempt_of_a_missing_function_is_answered_with_the_aws_error() -> None:
    account = Account.objects.create(id="123456789012")
    body = remote.request_body([async_invocation_row(account, "no-such-function")])
    status, content = _post(body, internal.signature(body))
    assert status == 200
    (outcome,) = json.loads(content)["Outcomes"]
    assert outcome["Error"]["code"] == "ResourceNotFoundException"
    assert outcome["Error"]["status"] == 404


def test_each_attempt_of_a_batch_is_answered_on_its_own() -> None:
    account = Account.objects.create(id="123456789012")
    stranger = async_invocation_row(account, "fn")
    stranger.account_id = "999999999999"  # an account this server doesn't have
    batch = [async_invocation_row(account, "no-such-function"), stranger]
    body = remote.request_body(batch)
    status, content = _post(body, internal.signature(body))
    assert status == 200
    errors = [outcome["Error"] for outcome in json.loads(content)["Outcomes"]]
    assert [(e["code"], e["message"]) for e in errors] == [
        ("ResourceNotFoundException", errors[0]["message"]),
        ("ResourceNotFoundException", "The account does not exist."),
    ]
    assert "no-such-function" in errors[0]["message"]
