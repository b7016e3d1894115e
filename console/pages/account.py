"""Console: the account page — its users (an admin manages them) and access keys (each user
manages their own; an admin, every key of the account). The secret is shown once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._forms import FieldError, account_of
from console.pages._request import ConsoleRequest
from iam import selectors, services
from iam.models import AccessKey
from platformapi.views import SignedInRequest


class IsAccountAdmin(BasePermission):
    """An administrator of the caller's account (``is_staff``): only they manage users.
    Checked after :class:`IsAuthenticated`, so a caller without a session still gets 401."""

    message = "Only an account administrator can manage users."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_staff)


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
    actor = request.user
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


class UserCreateInput(serializers.Serializer[Any]):
    """A new user of the caller's account; name and password rules are the service's."""

    UserName = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True)
    Password = serializers.CharField(
        required=False, default="", allow_blank=True, allow_null=True, trim_whitespace=False
    )
    Admin = serializers.BooleanField(required=False, default=False, allow_null=True)


class UserCreateOutput(serializers.Serializer[Any]):
    UserName = serializers.CharField()
    Admin = serializers.BooleanField()
    CreatedBy = serializers.CharField(help_text="The administrator who created the user.")


class UserCreateView(APIView):
    permission_classes = [IsAuthenticated, IsAccountAdmin]
    error_fields = {"UserName": "userName", "Password": "password"}

    @extend_schema(request=UserCreateInput, responses={201: UserCreateOutput})
    def post(self, request: SignedInRequest) -> Response:
        """Create a user in the caller's account (administrators only)."""
        actor = request.user
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = (data.validated_data["UserName"] or "").strip()
        if not username:
            raise FieldError("userName", "Enter a user name.")
        try:
            user = services.user_create(
                username=username,
                account=actor.account,
                password=data.validated_data["Password"] or None,
                is_admin=bool(data.validated_data["Admin"]),
            )
        except ValidationError as exc:
            field = "password" if "password" in getattr(exc, "error_dict", {}) else "userName"
            raise FieldError(field, _messages(exc)) from exc
        body = {"UserName": user.username, "Admin": user.is_staff, "CreatedBy": actor.username}
        return Response(body, status=201)


class UserStatusInput(serializers.Serializer[Any]):
    Active = serializers.BooleanField(required=False, default=False, allow_null=True)


class UserStatusOutput(serializers.Serializer[Any]):
    UserName = serializers.CharField()
    Active = serializers.BooleanField()


class UserStatusView(APIView):
    permission_classes = [IsAuthenticated, IsAccountAdmin]
    error_fields = {"Active": "users"}

    @extend_schema(request=UserStatusInput, responses=UserStatusOutput)
    def post(self, request: SignedInRequest, username: str) -> Response:
        """Activate or deactivate a user of the caller's account (administrators only; not
        themselves)."""
        actor = request.user
        user = selectors.user_get_for_admin(actor, username)
        data = UserStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.user_set_active(
                actor=actor, user=user, active=bool(data.validated_data["Active"])
            )
        except ValidationError as exc:
            raise FieldError("users", _messages(exc)) from exc
        return Response({"UserName": user.username, "Active": user.is_active})


class KeyOutput(serializers.Serializer[Any]):
    AccessKeyId = serializers.CharField()
    UserName = serializers.CharField()
    # Not a ChoiceField: its enum would be named StatusEnum, the name the invocation
    # status's enum already has in the schema.
    Status = serializers.CharField(help_text="Active or Inactive.")
    CreateDate = serializers.DateTimeField()


class KeyCreateOutput(KeyOutput):
    SecretAccessKey = serializers.CharField(help_text="Shown in this answer only.")


class KeyCreateInput(serializers.Serializer[Any]):
    UserName = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        allow_null=True,
        help_text="Whose key: the caller's when empty; another user's for an administrator.",
    )


class KeyCreateView(APIView):
    error_fields = {"UserName": "keys"}

    @extend_schema(request=KeyCreateInput, responses={201: KeyCreateOutput})
    def post(self, request: SignedInRequest) -> Response:
        """A new key for the caller, or (an admin) for a user of the account. The only
        answer that carries the secret."""
        actor = request.user
        data = KeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["UserName"] or ""
        user = actor
        if username and username != actor.username:
            # Anyone but an admin of the user's account finds no such user.
            user = selectors.user_get_for_admin(actor, username)
        key = services.access_key_create(user=user)
        return Response({**_key(key), "SecretAccessKey": key.secret_access_key}, status=201)


class KeyStatusInput(serializers.Serializer[Any]):
    Status = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True)


class KeyDetailView(APIView):
    error_fields = {"Status": "status"}

    @extend_schema(
        operation_id="account_keys_status_update", request=KeyStatusInput, responses=KeyOutput
    )
    def post(self, request: SignedInRequest, key_id: str) -> Response:
        """Activate or deactivate a key the caller manages (their own; an admin, any key of
        the account)."""
        key = selectors.access_key_get_for_user(request.user, key_id)
        data = KeyStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        status = data.validated_data["Status"]
        if status not in AccessKey.Status.values:
            raise FieldError("status", "Status must be Active or Inactive.")
        services.access_key_set_status(key=key, active=status == AccessKey.Status.ACTIVE)
        return Response(_key(key))

    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest, key_id: str) -> Response:
        key = selectors.access_key_get_for_user(request.user, key_id)
        services.access_key_delete(key=key)
        return Response(status=204)


urlpatterns: list[Any] = [
    path("account/", account_page, name="account"),
    path("account/users", UserCreateView.as_view(), name="account-user-create"),
    path(
        "account/users/<str:username>/status",
        UserStatusView.as_view(),
        name="account-user-status",
    ),
    path("account/keys", KeyCreateView.as_view(), name="account-key-create"),
    path("account/keys/<str:key_id>", KeyDetailView.as_view(), name="account-key-detail"),
]
