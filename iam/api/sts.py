"""STS: GetCallerIdentity, GetSessionToken and AssumeRole (thin views over ``iam.sts``)."""

from __future__ import annotations

from typing import Any

from iam import sts
from iam.api.access import is_admin
from iam.authentication import ApiRequest
from iam.models import TemporaryCredential

Params = dict[str, Any]


def _caller(request: ApiRequest) -> sts.Caller:
    credential = request.credential
    session = credential if isinstance(credential, TemporaryCredential) else None
    return sts.Caller(request.user, is_admin(request), session)


def _credentials(issued: sts.Issued) -> dict[str, Any]:
    credential = issued.credential
    return {
        "AccessKeyId": credential.access_key_id,
        "SecretAccessKey": credential.secret_access_key,
        "SessionToken": issued.session_token,
        "Expiration": credential.expiration,
    }


def get_caller_identity(request: ApiRequest, params: Params) -> dict[str, Any]:
    return sts.caller_identity(_caller(request))


def get_session_token(request: ApiRequest, params: Params) -> dict[str, Any]:
    issued = sts.session_token_get(_caller(request), params.get("DurationSeconds"))
    return {"Credentials": _credentials(issued)}


def assume_role(request: ApiRequest, params: Params) -> dict[str, Any]:
    issued = sts.role_assume(
        _caller(request),
        params["RoleArn"],
        params["RoleSessionName"],
        params.get("DurationSeconds"),
        params.get("ExternalId"),
    )
    credential = issued.credential
    return {
        "Credentials": _credentials(issued),
        "AssumedRoleUser": {"AssumedRoleId": credential.caller_id, "Arn": credential.arn},
    }


OPERATIONS = {
    "GetCallerIdentity": get_caller_identity,
    "GetSessionToken": get_session_token,
    "AssumeRole": assume_role,
}
