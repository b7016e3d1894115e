"""Policy enforcement: who is calling (``callers``), what the call needs (``iam.authorization``)
and whether its policies allow it (``enforce``); resource policies by ARN (``resources``).

The AWS API shells call :func:`authorize` (or :func:`authorize_async` on the Invoke path)
between authenticating a call and running its view; the console asks :func:`denial` before
offering an action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from awsapi.errors import AWSError
from iam.access import callers, enforce, resources
from iam.access.enforce import OWN_ACCOUNT, Grant, action_name
from iam.authorization import Scope
from iam.models import User

__all__ = ["OWN_ACCOUNT", "Grant", "action_name", "authorize", "authorize_async", "denial"]


def _conditions(http: HttpRequest | None, region: str) -> dict[str, Any]:
    if http is None:
        return enforce.request_conditions("", True, region)
    return enforce.request_conditions(http.META.get("REMOTE_ADDR", ""), http.is_secure(), region)


def authorize(
    credential: Any,
    user: User | None,
    region: str,
    http: HttpRequest | None,
    service: str,
    operation: str,
    params: Mapping[str, Any],
) -> Grant:
    """Allow the call, or raise AccessDenied (database reads as needed)."""
    caller = callers.caller_of(credential, user)
    scope = Scope(region=region, account=caller.account)
    return enforce.check(caller, service, operation, params, scope, _conditions(http, region))


async def authorize_async(
    credential: Any,
    user: User | None,
    region: str,
    http: HttpRequest | None,
    service: str,
    operation: str,
    params: Mapping[str, Any],
) -> Grant:
    """:func:`authorize` for the event loop: decided from this process's caches when they
    hold what is needed, else in a thread."""
    caller = callers.caller_cached(credential, user)
    if caller is not None:
        scope = Scope(region=region, account=caller.account)
        conditions = _conditions(http, region)
        try:
            return enforce.check(caller, service, operation, params, scope, conditions, load=False)
        except resources.NotCached:
            pass
    return await sync_to_async(authorize)(
        credential, user, region, http, service, operation, params
    )


def denial(
    user: User, region: str, service: str, operation: str, params: Mapping[str, Any]
) -> str | None:
    """Why ``user`` (signed in to the console) may not make this call, or None if it may."""
    try:
        authorize(None, user, region, None, service, operation, params)
    except AWSError as error:
        return error.message
    return None
