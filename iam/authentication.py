"""Who made an AWS API call: the SigV4 signature (``awsapi.sigv4``) checked against IAM's
access keys, and the view wrappers (``awsapi.apiview``'s shells) that hand every AWS API
view an authenticated :class:`ApiRequest`.

Only the Invoke path (:func:`verify_async`) uses the per-process key cache: a key
deactivated elsewhere keeps invoking for at most ``FUNCTORY_ACCESS_KEY_CACHE_SECONDS``.
Control-plane calls always read the key fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from awsapi import apiview, sigv4, strictjson
from awsapi.apiview import MAX_REQUEST_BYTES, AsyncViewFunc, ViewFunc
from awsapi.errors import InvalidRequestContent
from iam import keycache, selectors
from iam.models import AccessKey, Account, User


def verify(request: HttpRequest, body: bytes, *, service: str) -> sigv4.SignedIdentity[AccessKey]:
    """The active key that signed ``request`` for ``service`` (see ``awsapi.sigv4.verify``)."""
    return sigv4.verify(
        request, body, service=service, lookup=selectors.access_key_get_active, secret=_secret
    )


def _secret(key: AccessKey) -> str:
    return key.secret_access_key


def _lookup_and_cache(access_key_id: str) -> AccessKey | None:
    key = selectors.access_key_get_active(access_key_id)
    if key is not None:
        keycache.access_keys.put(access_key_id, key)
    return key


def _cached(access_key_id: str) -> AccessKey | None:
    key = keycache.access_keys.get(access_key_id)
    return None if key is keycache.MISSING else key


async def verify_async(
    request: HttpRequest, body: bytes, *, service: str
) -> sigv4.SignedIdentity[AccessKey]:
    """:func:`verify` for the hot path: no query when the key is cached."""
    return await sigv4.verify_async(
        request, body, service=service, lookup=_lookup_and_cache, secret=_secret, cached=_cached
    )


@dataclass
class ApiRequest:
    """An authenticated API call: who made it and what they sent."""

    http: HttpRequest
    request_id: str
    user: User
    account: Account
    region: str
    body: bytes
    _json: Any = field(default=None, repr=False)

    @classmethod
    def signed(
        cls,
        http: HttpRequest,
        request_id: str,
        identity: sigv4.SignedIdentity[AccessKey],
        body: bytes,
    ) -> ApiRequest:
        """The call of the user whose key signed it (SigV4 already verified)."""
        user = identity.access_key.user
        return cls(
            http=http,
            request_id=request_id,
            user=user,
            account=user.account,
            region=identity.region,
            body=body,
        )

    @property
    def query(self) -> Any:
        return self.http.GET

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is an empty object."""
        if self._json is None:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    parsed = strictjson.loads(self.body)
                except strictjson.JSONError as exc:
                    raise InvalidRequestContent(
                        f"Could not parse request body into json: Could not parse payload "
                        f"into json: {exc}"
                    ) from exc
                if not isinstance(parsed, dict):
                    raise InvalidRequestContent(
                        "Could not parse request body into json: Could not parse payload "
                        "into json: expected a JSON object"
                    )
                self._json = parsed
        return dict(self._json)


def _signed(http: HttpRequest, request_id: str, body: bytes, service: str) -> ApiRequest:
    return ApiRequest.signed(http, request_id, verify(http, body, service=service), body)


async def _signed_async(
    http: HttpRequest, request_id: str, body: bytes, service: str
) -> ApiRequest:
    identity = await verify_async(http, body, service=service)
    return ApiRequest.signed(http, request_id, identity, body)


def lambda_api(operation: str, *, max_body: int = MAX_REQUEST_BYTES) -> Callable[[ViewFunc], Any]:
    """Wrap a Lambda REST-JSON view: ``view(api_request, **url_kwargs) -> ApiResponse``.

    ``max_body`` may only lower the limit: ``awsapi.apiview.RequestBodyLimit`` never reads
    past ``MAX_REQUEST_BYTES``.
    """
    return apiview.rest_json_api(
        operation, service="lambda", authenticate=_signed, max_body=max_body
    )


def lambda_api_async(
    operation: str,
    *,
    max_body: int = MAX_REQUEST_BYTES,
    limit_operation: str | None = None,
    methods: tuple[str, ...] | None = None,
) -> Callable[[AsyncViewFunc], Any]:
    """:func:`lambda_api` for async views on the hot path: the signature is checked with
    :func:`verify_async` (its key cache), see ``awsapi.apiview.rest_json_api_async``."""
    return apiview.rest_json_api_async(
        operation,
        service="lambda",
        authenticate=_signed_async,
        max_body=max_body,
        limit_operation=limit_operation,
        methods=methods,
    )


def json_rpc_api(
    service: str,
    target_prefix: str,
    operations: dict[str, ViewFunc],
    *,
    max_body: int = MAX_REQUEST_BYTES,
) -> Any:
    """A JSON 1.1 endpoint of ``service`` (see ``awsapi.apiview.json_rpc_api``), its views
    given an authenticated :class:`ApiRequest`."""
    return apiview.json_rpc_api(
        service, target_prefix, operations, authenticate=_signed, max_body=max_body
    )
