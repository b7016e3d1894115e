"""Who may call the IAM API: for now the account's admin (root-like) only. Every IAM view
goes through :func:`admin_only`, so real policy enforcement replaces this one check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from awsapi.errors import AWSError
from awsapi.query import QueryView
from iam.authentication import ApiRequest
from iam.authorization import Scope, UnparsableResource, authorizations
from iam.models import TemporaryCredential


def caller_arn(request: ApiRequest) -> str:
    credential = request.credential
    if isinstance(credential, TemporaryCredential):
        return credential.arn
    return request.user.arn


def is_admin(request: ApiRequest) -> bool:
    """An admin user, signing with its keys or its own session (not a role's)."""
    credential = request.credential
    if isinstance(credential, TemporaryCredential) and credential.role_id is not None:
        return False
    return bool(request.user.is_staff)


def access_denied(request: ApiRequest, action: str, resource: str) -> AWSError:
    return AWSError(
        f"User: {caller_arn(request)} is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action",
        code="AccessDenied",
        status=403,
    )


def admin_only(operation: str, view: QueryView) -> QueryView:
    def checked(request: ApiRequest, params: dict[str, Any]) -> Mapping[str, Any] | None:
        if not is_admin(request):
            scope = Scope(region=request.region, account=request.account.id)
            try:
                resource = authorizations("iam", operation, params, scope)[0].resources[0]
            except UnparsableResource:
                resource = "*"
            raise access_denied(request, f"iam:{operation}", resource)
        return view(request, params)

    return checked
