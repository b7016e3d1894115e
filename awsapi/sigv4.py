"""Verification of AWS Signature Version 4 on incoming API requests.

The expected signature is computed by botocore's own ``SigV4Auth`` over a botocore
``AWSRequest`` rebuilt from the incoming request, so our canonicalisation is exactly the
one the SDKs use. Only the headers the client listed in ``SignedHeaders`` take part.

The credential scope must name this server's region and the API being called, and the
signature always covers the SHA-256 of the body actually received: an
``X-Amz-Content-SHA256`` header (``UNSIGNED-PAYLOAD`` included) must equal it. Failed
verifications are counted (:mod:`awsapi.signature_throttle`).

Which keys exist is not this module's business: callers pass the lookup of a key by its id
(IAM's access keys, see ``iam.authentication``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from awsapi import signature_throttle
from awsapi.errors import AuthError, AWSError

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"


# A key as its owner knows it; ``secret(key)`` is the HMAC key the client signed with.
K = TypeVar("K")


@dataclass(frozen=True)
class SignedIdentity(Generic[K]):
    """Who signed a request and for which region and service."""

    access_key: K
    region: str
    service: str


def _missing_token() -> AuthError:
    return AuthError("Missing Authentication Token", code="MissingAuthenticationTokenException")


def _incomplete(message: str) -> AuthError:
    return AuthError(message, code="IncompleteSignatureException")


def _invalid_signature(message: str) -> AuthError:
    return AuthError(message, code="InvalidSignatureException")


def _raw_path(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("raw_path"):
        raw: bytes = scope["raw_path"]
        return raw.decode("latin-1").split("?", 1)[0]
    return quote(request.path, safe="/~!$&'()*+,;=:@-._")


def _check_clock(timestamp: str) -> None:
    try:
        signed_at = dt.datetime.strptime(timestamp, _TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from exc
    now = timezone.now().replace(microsecond=0)
    skew = dt.timedelta(seconds=settings.FUNCTORY_SIGV4_MAX_SKEW_SECONDS)
    fmt = _TIMESTAMP_FORMAT
    if signed_at < now - skew:
        raise _invalid_signature(
            f"Signature expired: {timestamp} is now earlier than "
            f"{(now - skew).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)"
        )
    if signed_at > now + skew:
        raise _invalid_signature(
            f"Signature not yet current: {timestamp} is still later than "
            f"{(now + skew).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)"
        )


class _BodyHashSigner(SigV4Auth):
    """botocore's signer with the payload hash of the body we received, whatever the
    request says about it (no ``UNSIGNED-PAYLOAD``, no re-hash of a large body)."""

    def __init__(self, credentials: Credentials, service: str, region: str, body_hash: str):
        super().__init__(credentials, service, region)
        self._body_hash = body_hash

    def payload(self, request: AWSRequest) -> str:
        return self._body_hash


def _check_scope(
    region: str, service: str, terminator: str, scope_date: str, timestamp: str, expected: str
) -> None:
    """AWS's front end checks every part of the scope and names each one that is wrong."""
    problems = []
    if region != settings.FUNCTORY_REGION:
        problems.append(f"Credential should be scoped to a valid region, not '{region}'. ")
    if service != expected:
        problems.append(f"Credential should be scoped to correct service: '{expected}'. ")
    if terminator != "aws4_request":
        problems.append(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{terminator}'. "
        )
    if scope_date != timestamp[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    if problems:
        raise _invalid_signature("".join(problems))


def claimed_access_key_id(request: HttpRequest) -> str | None:
    """The access key id a request says it was signed with (unverified)."""
    match = _AUTH_RE.match(request.headers.get("Authorization", "").strip())
    return match["credential"].split("/", 1)[0] if match else None


def claimed_service(request: HttpRequest) -> str | None:
    """The service a request's credential scope names (unverified): which API of several
    sharing an endpoint it is for."""
    match = _AUTH_RE.match(request.headers.get("Authorization", "").strip())
    if match is None:
        return None
    parts = match["credential"].split("/")
    return parts[3] if len(parts) == 5 else None


async def verify_async(
    request: HttpRequest,
    body: bytes,
    *,
    service: str,
    lookup: Callable[[str], K | None],
    secret: Callable[[K], str],
    cached: Callable[[str], K | None],
) -> SignedIdentity[K]:
    """:func:`verify` for the hot path: inline when ``cached`` has the key (no query), else
    in a thread with ``lookup``."""
    from channels.db import database_sync_to_async

    key_id = claimed_access_key_id(request)
    if key_id is not None:
        key = cached(key_id)
        if key is not None:
            try:
                return _verify(request, body, service, lambda _: key, secret)
            except AuthError as error:
                # Counting may reach Redis: not on the event loop.
                count = database_sync_to_async(_failed, thread_sensitive=False)
                raise await count(request, error, service) from error

    check = database_sync_to_async(verify, thread_sensitive=False)
    return await check(request, body, service=service, lookup=lookup, secret=secret)


def verify(
    request: HttpRequest,
    body: bytes,
    *,
    service: str,
    lookup: Callable[[str], K | None],
    secret: Callable[[K], str],
) -> SignedIdentity[K]:
    """Return the signer of ``request`` for the API ``service`` (``lambda``, ``logs``,
    ``monitoring``) or raise the error AWS would answer with: an authentication error, or
    the service's throttling error once the key id (or address) has failed too often.
    ``lookup`` finds the active key with an id, or None; ``secret`` is its secret."""
    try:
        return _verify(request, body, service, lookup, secret)
    except AuthError as error:
        raise _failed(request, error, service) from error


class _UnknownKey(AuthError):
    code = "UnrecognizedClientException"


def _failed(request: HttpRequest, error: AuthError, service: str) -> AWSError:
    subject = signature_throttle.subject(
        request, claimed_access_key_id(request), isinstance(error, _UnknownKey)
    )
    return signature_throttle.failure(error, subject, service)


def _verify(
    request: HttpRequest,
    body: bytes,
    service: str,
    lookup: Callable[[str], K | None],
    secret: Callable[[K], str],
) -> SignedIdentity[K]:
    header = request.headers.get("Authorization")
    if not header:
        if "X-Amz-Signature" in request.GET or "X-Amz-Credential" in request.GET:
            raise _incomplete("Presigned requests are not supported by this API.")
        raise _missing_token()
    match = _AUTH_RE.match(header.strip())
    if match is None:
        raise _incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters. Authorization={header.split(' ', 1)[0]}"
        )
    parts = match["credential"].split("/")
    if len(parts) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{match['credential']}'"
        )
    access_key_id, scope_date, region, scope_service, terminator = parts
    timestamp = request.headers.get("X-Amz-Date", "")
    if not timestamp:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    _check_clock(timestamp)
    _check_scope(region, scope_service, terminator, scope_date, timestamp, service)
    key = lookup(access_key_id)
    if key is None:
        raise _UnknownKey("The security token included in the request is invalid.")

    body_hash = hashlib.sha256(body).hexdigest()
    content_sha = request.headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha != body_hash:
        raise _invalid_signature(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )

    signed_names = match["signed"].split(";")
    if "host" not in signed_names:
        raise _invalid_signature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    headers: dict[str, str] = {}
    for name in signed_names:
        value = request.headers.get(name)
        if value is None:
            raise _invalid_signature(
                f"The request signature we calculated does not match the signature you "
                f"provided. Signed header '{name}' is missing from the request."
            )
        headers[name] = value

    query = request.META.get("QUERY_STRING", "")
    url = f"http://{request.headers.get('host', 'localhost')}{_raw_path(request)}"
    if query:
        url += "?" + query
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws_request.context["timestamp"] = timestamp
    credentials = Credentials(access_key_id, secret(key))
    signer = _BodyHashSigner(credentials, service, region, body_hash)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise _invalid_signature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details."
        )
    return SignedIdentity(access_key=key, region=region, service=service)
