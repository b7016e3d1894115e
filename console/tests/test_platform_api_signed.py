"""Callers of the platform API that sign with an access key (SigV4), over real HTTP: the
signature is checked as on the AWS APIs, for the view's own service, and a refusal comes
back in the platform API's error shape with AWS's type."""

from __future__ import annotations

import pytest

from conftest import Credentials
from console.tests.raw_http import send, signed

pytestmark = pytest.mark.live

ASYNC = "/_functory/async-invocations"
LIVE_TOKEN = "/_functory/api/logs/live-token?group=/aws/lambda/nothing"


def _wrong_secret(credentials: Credentials) -> Credentials:
    return Credentials(
        credentials.account_id,
        credentials.user_name,
        credentials.access_key_id,
        credentials.secret_access_key[::-1],
    )


def test_a_signed_call_is_answered_for_the_signers_account(functory, credentials):
    response = signed(functory, credentials, "GET", ASYNC)
    assert response.status == 200, response.body
    assert response.json() == {"AsyncInvocations": []}


def test_a_wrong_secret_is_refused_with_awss_error_type(functory, credentials):
    response = signed(functory, _wrong_secret(credentials), "GET", ASYNC)
    assert response.status == 403, response.body
    assert response.error_type == "InvalidSignatureException"
    assert response.json()["error"]["code"] == "InvalidSignatureException"


def test_a_signature_for_another_service_is_refused(functory, credentials):
    # The live-tail grant is a Logs credential: a Lambda-scoped signature does not get one.
    response = signed(functory, credentials, "GET", LIVE_TOKEN)
    assert response.status == 403, response.body
    assert response.json()["error"]["code"] == response.error_type


def test_no_signature_and_no_session_is_a_401_naming_sigv4(functory):
    response = send(functory, "GET", ASYNC)
    assert response.status == 401, response.body
    assert response.headers["www-authenticate"] == "AWS4-HMAC-SHA256"
    assert response.json()["error"]["code"] == "NotAuthenticated"


def test_a_logs_signature_on_a_missing_group_is_a_404(functory, credentials):
    response = signed(functory, credentials, "GET", LIVE_TOKEN, service="logs")
    assert response.status == 404, response.body
    assert response.json()["error"]["code"] == "ResourceNotFoundException"
