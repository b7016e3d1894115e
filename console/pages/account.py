"""Console: the account page — its users (an admin manages them) and access keys (each user
manages their own; an admin, every key of the account). The secret is shown once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from awsapi.errors import AccessDenied
from console.consoleapi import FieldError, console_json, request_json
from console.pages._forms import account_of
from console.pages._request import ConsoleRequest
from iam import selectors, services
from iam.models import AccessKey, User


def _actor(request: ConsoleRequest) -> User:
    return request.user


def _admin(request: ConsoleRequest) -> User:
    actor = _actor(request)
    if not actor.is_staff:
        raise AccessDenied("Only an account administrator can manage users.", status=403)
    return actor


def _key(key: AccessKey) -> dict[str, Any]:
    return {
        "AccessKeyId": key.access_key_id,
        "UserName": key.user.username,
        "Status": key.status,
        "CreateDate": key.created.isoformat(),
    }


def _messages(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
def account_page(request: ConsoleRequest) -> HttpResponse:
    actor = _actor(request)
    users = selectors.users_visible_to(actor)
    keys = (
        AccessKey.objects.filter(user__in=users)
        .select_related("user")
        .order_by("user__username", "created")
    )
    return render(
        request,
        "console/account.html",
        {"account": account_of(request), "users": users, "keys": keys, "is_admin": actor.is_staff},
    )


@console_json
@require_POST
def user_create(request: ConsoleRequest) -> dict[str, Any]:
    actor = _admin(request)
    data = request_json(request)
    username = str(data.get("UserName") or "").strip()
    if not username:
        raise FieldError("userName", "Enter a user name.")
    try:
        user = services.user_create(
            username=username,
            account=account_of(request),
            password=str(data.get("Password") or "") or None,
            is_admin=bool(data.get("Admin")),
        )
    except ValidationError as exc:
        field = "password" if "password" in getattr(exc, "error_dict", {}) else "userName"
        raise FieldError(field, _messages(exc)) from exc
    return {"UserName": user.username, "Admin": user.is_staff, "CreatedBy": actor.username}


@console_json
@require_POST
def user_status(request: ConsoleRequest, username: str) -> dict[str, Any]:
    actor = _admin(request)
    user = selectors.user_get_for_admin(actor, username)
    active = bool(request_json(request).get("Active"))
    try:
        services.user_set_active(actor=actor, user=user, active=active)
    except ValidationError as exc:
        raise FieldError("users", _messages(exc)) from exc
    return {"UserName": user.username, "Active": user.is_active}


@console_json
@require_POST
def key_create(request: ConsoleRequest) -> dict[str, Any]:
    """A new key for the caller, or (an admin) for a user of the account. The only answer
    that carries the secret."""
    actor = _actor(request)
    username = str(request_json(request).get("UserName") or "")
    user = actor
    if username and username != actor.username:
        user = selectors.user_get_for_admin(actor, username)
    key = services.access_key_create(user=user)
    return {**_key(key), "SecretAccessKey": key.secret_access_key}


@console_json
@require_http_methods(["POST", "DELETE"])
def key_detail(request: ConsoleRequest, key_id: str) -> dict[str, Any] | None:
    key = selectors.access_key_get_for_user(_actor(request), key_id)
    if request.method == "DELETE":
        services.access_key_delete(key=key)
        return None
    status = request_json(request).get("Status")
    if status not in AccessKey.Status.values:
        raise FieldError("status", "Status must be Active or Inactive.")
    services.access_key_set_status(key=key, active=status == AccessKey.Status.ACTIVE)
    return _key(key)


urlpatterns: list[Any] = [
    path("account/", account_page, name="account"),
    path("account/users", user_create, name="account-user-create"),
    path("account/users/<str:username>/status", user_status, name="account-user-status"),
    path("account/keys", key_create, name="account-key-create"),
    path("account/keys/<str:key_id>", key_detail, name="account-key-detail"),
]
