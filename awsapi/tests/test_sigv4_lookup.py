"""SigV4 verification knows no app: the caller says which keys exist and their secrets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory

from awsapi import signature_throttle, sigv4
from awsapi.errors import AWSError


@dataclass(frozen=True)
class Key:
    """A key of some owner that is not a model."""

    owner: str
    secret: str


KEYS = {"AKIAEXAMPLEKEY000001": Key("alice", "s" * 40)}
PATH = "/2015-03-31/functions/"


@pytest.fixture(autouse=True)
def _no_failures_counted_across_tests() -> Iterator[None]:
    # Failed verifications are counted per key id or address; start and leave at zero.
    signature_throttle.reset()
    yield
    signature_throttle.reset()


def _signed_request(access_key_id: str, secret: str, body: bytes = b"{}") -> HttpRequest:
    aws = AWSRequest(method="POST", url=f"http://testserver{PATH}", data=body)
    SigV4Auth(Credentials(access_key_id, secret), "lambda", settings.FUNCTORY_REGION).add_auth(aws)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in aws.headers.items()}
    return RequestFactory().post(
        PATH, data=body, content_type="application/json", HTTP_HOST="testserver", **meta
    )


def _verify(request: HttpRequest, body: bytes = b"{}") -> sigv4.SignedIdentity[Key]:
    return sigv4.verify(
        request,
        body,
        service="lambda",
        lookup=KEYS.get,
        secret=lambda key: key.secret,
    )


def test_it_returns_the_key_the_lookup_found_for_a_good_signature() -> None:
    identity = _verify(_signed_request("AKIAEXAMPLEKEY000001", "s" * 40))

    assert identity.access_key == KEYS["AKIAEXAMPLEKEY000001"]
    assert (identity.region, identity.service) == (settings.FUNCTORY_REGION, "lambda")


def test_it_refuses_a_signature_made_with_another_secret() -> None:
    with pytest.raises(AWSError) as raised:
        _verify(_signed_request("AKIAEXAMPLEKEY000001", "t" * 40))

    assert raised.value.code == "InvalidSignatureException"


def test_it_refuses_a_key_the_lookup_does_not_know() -> None:
    with pytest.raises(AWSError) as raised:
        _verify(_signed_request("AKIAUNKNOWNKEY000001", "s" * 40))

    assert raised.value.code == "UnrecognizedClientException"
