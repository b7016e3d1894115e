"""Who calls the platform API: a signed-in console user (session cookie, CSRF-checked), or
an access key's user by a SigV4 signature, as the AWS APIs authenticate."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from awsapi.sigv4 import SignedIdentity
from iam import authentication
from iam.models import User


class ConsoleSessionAuthentication(SessionAuthentication):
    """The console's session; unsafe methods need the CSRF token, as for any form."""

    def authenticate_header(self, request: Request) -> str:
        # Answer 401 (sign in), not 403, to a caller with no session.
        return 'Session realm="functory"'


class SigV4Authentication(BaseAuthentication):
    """A request signed with an access key (AWS Signature Version 4) for the view's
    ``sigv4_service`` (default ``lambda``). A request that carries no signature is left to
    the next authenticator; a bad signature is refused with AWS's error."""

    def authenticate(
        self, request: Request
    ) -> tuple[User, SignedIdentity[authentication.Credential]] | None:
        http = request._request
        if "Authorization" not in http.headers:
            return None
        view: Any = request.parser_context.get("view")
        service = getattr(view, "sigv4_service", "lambda")
        identity = authentication.verify(http, http.body, service=service)
        user = identity.access_key.user
        if user is None:
            # A function's execution-role session: it signs the AWS APIs, not this one.
            raise AuthenticationFailed("These credentials do not sign the platform's own API.")
        return user, identity

    def authenticate_header(self, request: Request) -> str:
        return "AWS4-HMAC-SHA256"
