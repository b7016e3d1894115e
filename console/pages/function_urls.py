"""Console: the function's URLs (the configuration tab's Function URL section) and the JSON
endpoints its script calls.

Each endpoint validates as Create/Update/DeleteFunctionUrlConfig do and calls the same
services, so the console and the API refuse a value in the same words. Unlike the API, and
like AWS's console, it also keeps the resource-based policy in step with the auth type: a
NONE URL gets the public-access statements, and they go when the URL is deleted or switched
to AWS_IAM (:mod:`functions.services.function_url_access`). Every answer says which
statements it added or removed, and carries the policy for the page to redraw.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._forms import checked, fields
from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import render, selectors
from functions.function_urls import function_url
from functions.models import Function, FunctionUrlConfig, FunctionVersion
from functions.selectors import UrlTarget
from functions.services import function_url_access as access
from functions.services import function_urls as url_services
from iam.models import Account
from platformapi.views import SignedInRequest

# Service messages that name no member (the CORS rules) → the control that shows them.
_CORS_TEXTS = {
    "The origin ": "cors.allowOrigins",
    "AllowMethods": "cors.allowMethods",
    "in AllowHeaders": "cors.allowHeaders",
    "in ExposeHeaders": "cors.exposeHeaders",
}
_ERROR_FIELDS = {
    "Qualifier": "qualifier",
    "AuthType": "authType",
    "InvokeMode": "invokeMode",
    "Cors": "cors",
    "Cors.AllowOrigins": "cors.allowOrigins",
    "Cors.AllowMethods": "cors.allowMethods",
    "Cors.AllowHeaders": "cors.allowHeaders",
    "Cors.ExposeHeaders": "cors.exposeHeaders",
    "Cors.MaxAge": "cors.maxAge",
    "Cors.AllowCredentials": "cors.allowCredentials",
}


def _names() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(trim_whitespace=False), required=False, allow_null=True
    )


class CorsInput(serializers.Serializer[Any]):
    """The URL's CORS settings, as the API's ``Cors``; a member left out is unset."""

    AllowOrigins = _names()
    AllowMethods = _names()
    AllowHeaders = _names()
    ExposeHeaders = _names()
    MaxAge = serializers.IntegerField(required=False, allow_null=True)
    AllowCredentials = serializers.BooleanField(required=False, allow_null=True)


class FunctionUrlInput(serializers.Serializer[Any]):
    """A function URL's settings. A ``Cors`` given replaces the whole structure (``{}``
    clears it); left out or null, an update keeps the URL's."""

    AuthType = serializers.CharField(help_text="NONE or AWS_IAM.")
    InvokeMode = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="BUFFERED or RESPONSE_STREAM."
    )
    Cors = CorsInput(required=False, allow_null=True)


class CreateFunctionUrlInput(FunctionUrlInput):
    Qualifier = serializers.CharField(
        required=False,
        allow_blank=True,
        default=FunctionVersion.LATEST,
        help_text="$LATEST or one of the function's aliases.",
    )


class PolicyChangeOutput(serializers.Serializer[Any]):
    Sid = serializers.CharField()
    Action = serializers.CharField()
    Added = serializers.BooleanField(help_text="True if added, false if removed.")


class FunctionUrlsOutput(serializers.Serializer[Any]):
    """The function's URLs and policy after the change, and what the change did to it."""

    Urls = serializers.ListField(
        child=serializers.DictField(),
        help_text="Each URL as GetFunctionUrlConfig answers it, with its Qualifier.",
    )
    Policy = serializers.DictField(
        help_text="The policy of the URL's qualifier, as GetPolicy has it."
    )
    PolicyChanges = PolicyChangeOutput(many=True)


def _target(account: Account, name: str, qualifier: str, missing: str) -> UrlTarget:
    """The function's URL target; '$LATEST' (or nothing) is not sent to the model, which
    only knows alias names."""
    function = selectors.function_get_for_account(account, name)
    qualifier = qualifier or FunctionVersion.LATEST
    alias = None if qualifier == FunctionVersion.LATEST else qualifier
    params = {"Qualifier": alias} if alias is not None else {}
    checked("GetFunctionUrlConfig", params, FunctionName=function.name)
    return selectors.url_target(account, function.name, alias, missing=missing)


def _params(target: UrlTarget, data: dict[str, Any], operation: str) -> dict[str, Any]:
    params: dict[str, Any] = {"AuthType": data["AuthType"]}
    if data.get("InvokeMode"):
        params["InvokeMode"] = data["InvokeMode"]
    cors = data.get("Cors")
    if cors is not None:
        # Members left out (or null) are unset; an empty Cors clears the settings.
        params["Cors"] = {k: v for k, v in cors.items() if v is not None}
    if target.qualifier != FunctionVersion.LATEST:
        params["Qualifier"] = target.qualifier
    return checked(operation, params, FunctionName=target.function.name)


def url_rows(function: Function, request: HttpRequest) -> list[dict[str, Any]]:
    """The function's URLs as the page shows them."""
    return [
        {
            "Qualifier": config.qualifier,
            **render.function_url_config(config, function_url(config, request)),
        }
        for config in function.url_configs.select_related("function").order_by("qualifier")
    ]


def _answer(
    request: HttpRequest, target: UrlTarget, changes: list[access.PolicyChange], status: int = 200
) -> Response:
    alias = None if target.qualifier == FunctionVersion.LATEST else target.qualifier
    resolved = selectors.function_resolve(
        target.function.account, target.function.name, alias, follow_alias=False
    )
    return Response(
        {
            "Urls": url_rows(target.function, request),
            "Policy": render.policy_document(selectors.policy_statements(resolved)),
            "PolicyChanges": [
                {"Sid": c.sid, "Action": c.action, "Added": c.added} for c in changes
            ],
        },
        status=status,
    )


class FunctionUrlsView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=CreateFunctionUrlInput, responses={201: FunctionUrlsOutput})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Create a URL for $LATEST or an alias (CreateFunctionUrlConfig); for AuthType
        NONE, also add the public-access statements to the qualifier's policy."""
        account = request.user.account
        data = CreateFunctionUrlInput(data=request.data)
        data.is_valid(raise_exception=True)
        form = data.validated_data
        with fields("qualifier"):
            target = _target(account, name, form["Qualifier"], selectors.FUNCTION_MISSING)
        with fields("url", _CORS_TEXTS):
            params = _params(target, form, "CreateFunctionUrlConfig")
            _require_change(request, Action.CREATE_URL, params, None)
            with transaction.atomic():
                config = url_services.function_url_config_create(target=target, params=params)
                changes = _sync_policy(target, None, config)
        return _answer(request, target, changes, status=201)


class FunctionUrlView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=FunctionUrlInput, responses=FunctionUrlsOutput)
    def put(self, request: SignedInRequest, name: str, qualifier: str) -> Response:
        """Change a URL's auth type, invoke mode and CORS (UpdateFunctionUrlConfig), adding
        or removing the public-access statements to match the auth type."""
        account = request.user.account
        data = FunctionUrlInput(data=request.data)
        data.is_valid(raise_exception=True)
        with fields("url", _CORS_TEXTS):
            target = _target(account, name, qualifier, selectors.FUNCTION_MISSING)
            params = _params(target, data.validated_data, "UpdateFunctionUrlConfig")
            before = selectors.function_url_config_get(target).auth_type
            _require_change(request, Action.UPDATE_URL, params, before)
            with transaction.atomic():
                before = selectors.function_url_config_get(target).auth_type
                config = url_services.function_url_config_update(target=target, params=params)
                changes = _sync_policy(target, before, config)
        return _answer(request, target, changes)

    # The page redraws the policy and says what was removed, so this deletion answers them
    # (not 204), as the policy statement's deletion does.
    @extend_schema(responses=FunctionUrlsOutput)
    def delete(self, request: SignedInRequest, name: str, qualifier: str) -> Response:
        """Delete a URL (DeleteFunctionUrlConfig) and its public-access statements."""
        account = request.user.account
        with fields("url"):
            target = _target(account, name, qualifier, selectors.RESOURCE_MISSING)
            params = {"FunctionName": target.function.name}
            if target.qualifier != FunctionVersion.LATEST:
                params["Qualifier"] = target.qualifier
            require(request, Action.DELETE_URL, **params)
            require(request, Action.REMOVE_PERMISSION, **params)
            with transaction.atomic():
                url_services.function_url_config_delete(target=target)
                changes = access.public_access_revoke(target=target)
        return _answer(request, target, changes)


def _require_change(
    request: SignedInRequest, action: Action, params: dict[str, Any], before: str | None
) -> None:
    """The URL operation, and the policy change that keeps the policy in step with the auth
    type (AddPermission for a public URL, RemovePermission when it stops being one)."""
    require(request, action, **params)
    where = {k: v for k, v in params.items() if k in ("FunctionName", "Qualifier")}
    auth_type = params.get("AuthType")
    if auth_type == before:
        return
    if auth_type == FunctionUrlConfig.AUTH_NONE:
        require(request, Action.ADD_PERMISSION, Principal="*", FunctionUrlAuthType="NONE", **where)
    elif before is not None:
        require(request, Action.REMOVE_PERMISSION, **where)


def _sync_policy(
    target: UrlTarget, before: str | None, config: FunctionUrlConfig
) -> list[access.PolicyChange]:
    """On a change of auth type (or a new URL) only: a save that keeps the auth type leaves
    the policy as its owner made it."""
    if config.auth_type == before:
        return []
    if config.auth_type == FunctionUrlConfig.AUTH_NONE:
        return access.public_access_grant(target=target)
    if before is None:
        return []
    return access.public_access_revoke(target=target)


urlpatterns: list[Any] = [
    path(
        "functions/<str:name>/configuration/urls",
        FunctionUrlsView.as_view(),
        name="configuration-urls",
    ),
    path(
        "functions/<str:name>/configuration/urls/<str:qualifier>",
        FunctionUrlView.as_view(),
        name="configuration-url",
    ),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for the Function URL section and the overview's triggers."""
    urls = url_rows(function, request)
    return {
        "function_urls": {
            "urls": urls,
            "state": {
                "function": function.name,
                "urls": urls,
                "qualifiers": [
                    FunctionVersion.LATEST,
                    *function.aliases.order_by("name").values_list("name", flat=True),
                ],
            },
        }
    }
