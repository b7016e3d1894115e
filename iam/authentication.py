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
from django.utils import timezone

from awsapi import apiview, query, sigv4, strictjson
from awsapi.apiview import MAX_REQUEST_BYTES, AsyncViewFunc, ViewFunc
from awsapi.errors import AuthError, AWSError, InvalidRequestContent
from awsapi.service_models import service_model
from iam import access, keycache, selectors
from iam.access.params import rest_params
from iam.models import AccessKey, Account, TemporaryCredential, User

# A permanent access key, or STS's temporary credentials (with their session token).
Credential = AccessKey | TemporaryCredential
SESSION_TOKEN_HEADER = "X-Amz-Security-Token"


class ExpiredToken(AuthError):
    code = "ExpiredTokenException"


def _session_checked(
    credential: TemporaryCredential | None, token: str | None
) -> TemporaryCredential | None:
    """Temporary credentials only sign with their own session token, until they expire."""
    if credential is None or token is None or not credential.token_matches(token):
        return None
    if credential.expiration <= timezone.now():
        raise ExpiredToken("The security token included in the request is expired")
    return credential


def _lookup(request: HttpRequest) -> Callable[[str], Credential | None]:
    token = request.headers.get(SESSION_TOKEN_HEADER)

    def lookup(access_key_id: str) -> Credential | None:
        if access_key_id.startswith("ASIA"):
            found = selectors.temporary_credential_get(access_key_id)
            return _session_checked(found, token)
        if token is not None:
            return None  # a permanent key has no session: the token names no credentials
        return selectors.access_key_get_active(access_key_id)

    return lookup


def credential_account_id(key: Credential) -> str:
    """The account a call signed with ``key`` acts in: a session's own (a role's session
    acts in the role's account, and an execution role's session has no user)."""
    if isinstance(key, TemporaryCredential):
        return str(key.account_id)
    return str(key.user.account_id)


def verify(request: HttpRequest, body: bytes, *, service: str) -> sigv4.SignedIdentity[Credential]:
    """The credentials that signed ``request`` for ``service`` (see ``awsapi.sigv4.verify``):
    an active access key, or unexpired temporary credentials with their session token."""
    return sigv4.verify(request, body, service=service, lookup=_lookup(request), secret=_secret)


def _secret(key: Credential) -> str:
    return key.secret_access_key


async def verify_async(
    request: HttpRequest, body: bytes, *, service: str
) -> sigv4.SignedIdentity[Credential]:
    """:func:`verify` for the hot path: no query when the key is cached."""
    lookup = _lookup(request)
    token = request.headers.get(SESSION_TOKEN_HEADER)

    def lookup_and_cache(access_key_id: str) -> Credential | None:
        key = lookup(access_key_id)
        if key is not None:
            keycache.access_keys.put(access_key_id, key)
        return key

    def cached(access_key_id: str) -> Credential | None:
        key = keycache.access_keys.get(access_key_id)
        if key is keycache.MISSING:
            return None
        if isinstance(key, TemporaryCredential):
            try:
                return _session_checked(key, token)
            except ExpiredToken:
                return None  # the uncached path answers it
        return key if token is None else None

    return await sigv4.verify_async(
        request, body, service=service, lookup=lookup_and_cache, secret=_secret, cached=cached
    )


@dataclass
class ApiRequest:
    """An authenticated API call: who made it and what they sent."""

    http: HttpRequest
    request_id: str
    # The user whose key (or GetSessionToken/AssumeRole session) signed the call; None for
    # a session nobody asked for: a function's execution role (see ``credential``).
    user: User | None
    account: Account
    region: str
    body: bytes
    _json: Any = field(default=None, repr=False)
    # What signed the call: an access key, or temporary credentials (whose session, if a
    # role's, decides the caller's ARN and permissions).
    credential: Credential | None = None
    # Another account's resource the caller's policies and that resource's policy let this
    # call act on (a cross-account Invoke after AddPermission); None: only its own account.
    foreign_account: Account | None = None

    @property
    def resource_account(self) -> Account:
        """The account whose function the call acts on: the caller's own, or the one a
        resource policy opened to it (set only by authorization, never by the request)."""
        return self.foreign_account if self.foreign_account is not None else self.account

    def _granted(self, grant: access.Grant) -> None:
        if grant.foreign_account is not None:
            self.foreign_account = Account(id=grant.foreign_account)

    def authorize(self, service: str, operation: str, params: dict[str, Any]) -> None:
        """Let the call through if the caller's policies (and the resource's) allow it,
        else raise AccessDenied (see ``iam.access``)."""
        self._granted(
            access.authorize(
                self.credential, self.user, self.region, self.http, service, operation, params
            )
        )

    async def authorize_async(self, service: str, operation: str, params: dict[str, Any]) -> None:
        """:meth:`authorize` on the event loop (the Invoke path)."""
        self._granted(
            await access.authorize_async(
                self.credential, self.user, self.region, self.http, service, operation, params
            )
        )

    @classmethod
    def signed(
        cls,
        http: HttpRequest,
        request_id: str,
        identity: sigv4.SignedIdentity[Credential],
        body: bytes,
    ) -> ApiRequest:
        """The call of the user whose key signed it (SigV4 already verified)."""
        key = identity.access_key
        return cls(
            http=http,
            request_id=request_id,
            user=key.user,
            # A role's session acts in the role's account (which may be another than its user's).
            account=key.account if isinstance(key, TemporaryCredential) else key.user.account,
            region=identity.region,
            body=body,
            credential=identity.access_key,
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


def _rest_authorizer(service: str) -> apiview.Authorize:
    def authorize(api_request: object, operation: str, url_kwargs: dict[str, Any]) -> None:
        assert isinstance(api_request, ApiRequest)
        params = rest_params(service, operation, api_request.http, url_kwargs, api_request.json)
        api_request.authorize(service, operation, params)

    return authorize


def _rest_authorizer_async(service: str) -> apiview.AsyncAuthorize:
    async def authorize(api_request: object, operation: str, url_kwargs: dict[str, Any]) -> None:
        assert isinstance(api_request, ApiRequest)
        params = rest_params(service, operation, api_request.http, url_kwargs, api_request.json)
        await api_request.authorize_async(service, operation, params)

    return authorize


def _json_rpc_authorizer(service: str) -> apiview.Authorize:
    def authorize(api_request: object, operation: str, url_kwargs: dict[str, Any]) -> None:
        assert isinstance(api_request, ApiRequest)
        try:
            params = api_request.json()
        except AWSError:
            params = {}  # the operation answers its own unparsable body
        api_request.authorize(service, operation, params)

    return authorize


def _query_authorize(
    api_request: object, service: str, action: str, params: dict[str, Any]
) -> None:
    """IAM's actions are authorized here; STS's by STS itself (AssumeRole evaluates the
    role's trust policy with the caller's policies, GetCallerIdentity needs nothing)."""
    if service == "iam":
        assert isinstance(api_request, ApiRequest)
        api_request.authorize(service, action, params)


def lambda_api(operation: str, *, max_body: int = MAX_REQUEST_BYTES) -> Callable[[ViewFunc], Any]:
    """Wrap a Lambda REST-JSON view: ``view(api_request, **url_kwargs) -> ApiResponse``.

    ``max_body`` may only lower the limit: ``awsapi.apiview.RequestBodyLimit`` never reads
    past ``MAX_REQUEST_BYTES``.
    """
    return apiview.rest_json_api(
        operation,
        service="lambda",
        authenticate=_signed,
        authorize=_rest_authorizer("lambda"),
        max_body=max_body,
    )


def xray_api(operation: str) -> Callable[[ViewFunc], Any]:
    """Wrap an X-Ray REST-JSON view (signing name and IAM prefix ``xray``)."""
    return apiview.rest_json_api(
        operation, service="xray", authenticate=_signed, authorize=_rest_authorizer("xray")
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
        authorize=_rest_authorizer_async("lambda"),
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
        service,
        target_prefix,
        operations,
        authenticate=_signed,
        authorize=_json_rpc_authorizer(service),
        max_body=max_body,
    )


def _query_service(request: HttpRequest, action: str) -> str | None:
    """IAM or STS, as the signature's scope says; an unsigned call (or one scoped to neither)
    by its action, so that its error is rendered as that service's."""
    claimed = sigv4.claimed_service(request)
    if claimed in ("iam", "sts"):
        return claimed
    for service in ("sts", "iam"):
        if action in service_model(service).operation_names:
            return service
    return claimed


def query_api(services: dict[str, dict[str, query.QueryView]]) -> Any:
    """The query-protocol endpoint of IAM and STS (see ``awsapi.query.query_api``), its views
    given an authenticated :class:`ApiRequest`."""
    return query.query_api(
        services, authenticate=_signed, service_of=_query_service, authorize=_query_authorize
    )
