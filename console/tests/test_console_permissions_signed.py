"""The platform API's own endpoints, signed with an access key (SigV4), ask IAM as the AWS
APIs do: a member without policies is refused with AWS's message; a read-only member reads."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import LiveServer, create_member
from console.tests.raw_http import signed

pytestmark = pytest.mark.live

READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"


def test_a_signed_member_without_policies_is_refused_the_platform_apis_reads(
    functory: LiveServer,
) -> None:
    nobody = create_member(functory)
    listed = signed(functory, nobody, "GET", "/_functory/async-invocations")
    assert listed.status == 403
    assert listed.json()["error"]["message"].startswith(
        f"User: arn:aws:iam::{nobody.account_id}:user/{nobody.user_name} is not authorized "
        "to perform: lambda:ListFunctions"
    )
    group = quote("/aws/lambda/anything", safe="")
    token = signed(
        functory, nobody, "GET", f"/_functory/api/logs/live-token?group={group}", service="logs"
    )
    assert token.status == 403
    assert "logs:StartLiveTail" in token.json()["error"]["message"]


def test_a_signed_read_only_member_lists_the_async_invocations(functory: LiveServer) -> None:
    reader = create_member(functory, READ_ONLY)
    listed = signed(functory, reader, "GET", "/_functory/async-invocations")
    assert listed.status == 200, listed.body
    assert listed.json() == {"AsyncInvocations": []}
