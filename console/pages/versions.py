"""Console: the versions and aliases tab and the JSON endpoints its script calls: publish a
version, create, update and delete aliases (with a weighted second version).

The serializers read the form's JSON (its keys and their types); the values are checked by
the operation's botocore model (``checked``) and the services, as the API checks them.
``error_fields`` maps a serializer key to the form control that shows its error."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._forms import FieldError, checked, fields
from console.pages._forms import text_field as _text
from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import arns, render, selectors
from functions.models import Function
from functions.services import aliases as alias_services
from functions.services import functions as function_services
from iam.models import Account
from platformapi.views import SignedInRequest

_ALIAS_TEXTS = {
    "routing configuration": "routingConfig",
    "more than 1 version": "routingConfig",
    "AdditionalVersionWeights": "routingConfig",
    "Function not found": "functionVersion",
    "Alias already exists": "name",
}

VERSION_CONFIGURATION = OpenApiTypes.OBJECT
ALIAS_CONFIGURATION = OpenApiResponse(
    OpenApiTypes.OBJECT, description="The alias, as GetAlias returns it."
)


def _function(account: Account, name: str) -> Function:
    return selectors.function_get_for_account(account, name)


class PublishVersionInput(serializers.Serializer[Any]):
    Description = _text(help_text="The version's description; empty keeps $LATEST's.")


class PublishView(APIView):
    error_fields = {"Description": "description"}

    @extend_schema(
        request=PublishVersionInput,
        responses={
            201: OpenApiResponse(
                VERSION_CONFIGURATION,
                description=(
                    "The version's configuration (PublishVersion's answer): a new version, "
                    "or the newest one when $LATEST has not changed since."
                ),
            ),
        },
    )
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Publish $LATEST as a new version."""
        account = request.user.account
        function = _function(account, name)
        data = PublishVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        description = data.validated_data.get("Description")
        params: dict[str, Any] = {"Description": description} if description else {}
        with fields("publish"):
            params = checked("PublishVersion", params, FunctionName=function.name)
            require(request, Action.PUBLISH_VERSION, **params)
            resolved = selectors.function_resolve(account, function.name)
            version = function_services.version_publish(resolved=resolved, params=params)
        # 201 either way, as PublishVersion answers.
        return Response(
            render.function_configuration(version, qualifier=version.version), status=201
        )


class AliasInput(serializers.Serializer[Any]):
    """An alias's version, and an optional second version with its share of invocations."""

    FunctionVersion = _text()
    Description = _text()
    AdditionalVersion = _text(help_text="A second version to route some invocations to.")
    AdditionalWeight = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="The second version's share of invocations, in percent (0 to 100).",
    )


class AliasCreateInput(AliasInput):
    Name = _text()


def _routing(data: dict[str, Any]) -> dict[str, Any] | None:
    """``RoutingConfig`` from the form: a second version and its weight in percent."""
    extra = data.get("AdditionalVersion") or ""
    if not extra:
        return {"AdditionalVersionWeights": {}}
    percent = data.get("AdditionalWeight")
    if percent is None or not 0 <= percent <= 100:
        raise FieldError("routingConfig", "The weight must be a percentage from 0 to 100.")
    return {"AdditionalVersionWeights": {extra: round(percent / 100, 4)}}


def _alias_params(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "FunctionVersion": data.get("FunctionVersion") or "",
        "Description": data.get("Description") or "",
        "RoutingConfig": _routing(data),
    }


_ALIAS_FIELDS = {
    "Name": "name",
    "FunctionVersion": "functionVersion",
    "Description": "description",
    "AdditionalVersion": "routingConfig",
    "AdditionalWeight": "routingConfig",
}


class AliasesView(APIView):
    error_fields = _ALIAS_FIELDS

    @extend_schema(request=AliasCreateInput, responses={201: ALIAS_CONFIGURATION})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Create an alias (CreateAlias)."""
        function = _function(request.user.account, name)
        data = AliasCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        form = data.validated_data
        with fields("alias", _ALIAS_TEXTS):
            params = checked(
                "CreateAlias",
                {"Name": form.get("Name") or "", **_alias_params(form)},
                FunctionName=function.name,
            )
            require(request, Action.CREATE_ALIAS, FunctionName=function.name, Name=params["Name"])
            alias = alias_services.alias_create(function=function, params=params)
        return Response(render.alias_configuration(alias), status=201)


class AliasDetailView(APIView):
    error_fields = _ALIAS_FIELDS

    @extend_schema(
        request=AliasInput, responses=ALIAS_CONFIGURATION, operation_id="functions_aliases_update"
    )
    def post(self, request: SignedInRequest, name: str, alias: str) -> Response:
        """Change an alias's versions and description (UpdateAlias)."""
        function = _function(request.user.account, name)
        data = AliasInput(data=request.data)
        data.is_valid(raise_exception=True)
        with fields("alias", _ALIAS_TEXTS):
            params = checked(
                "UpdateAlias",
                _alias_params(data.validated_data),
                FunctionName=function.name,
                Name=alias,
            )
            require(request, Action.UPDATE_ALIAS, FunctionName=function.name, Name=alias)
            updated = alias_services.alias_update(function=function, name=alias, params=params)
        return Response(render.alias_configuration(updated))

    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest, name: str, alias: str) -> Response:
        """Delete an alias (DeleteAlias)."""
        function = _function(request.user.account, name)
        with fields("alias"):
            checked("DeleteAlias", {}, FunctionName=function.name, Name=alias)
            require(request, Action.DELETE_ALIAS, FunctionName=function.name, Name=alias)
            alias_services.alias_delete(function=function, name=alias)
        return Response(status=204)


urlpatterns: list[Any] = [
    path("functions/<str:name>/versions/publish", PublishView.as_view(), name="versions-publish"),
    path("functions/<str:name>/aliases", AliasesView.as_view(), name="aliases-create"),
    path(
        "functions/<str:name>/aliases/<str:alias>",
        AliasDetailView.as_view(),
        name="aliases-detail",
    ),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for the versions and aliases tab."""
    versions = list(function.versions.exclude(number=0).order_by("-number"))
    aliases = [
        {
            "name": alias.name,
            "arn": arns.function_arn(function.account_id, function.name, alias.name),
            "version": alias.function_version,
            "description": alias.description,
            "additional": next(iter(alias.routing_weights.items()), None),
        }
        for alias in function.aliases.order_by("name")
    ]
    for alias_row in aliases:
        extra = alias_row["additional"]
        alias_row["additional"] = (
            {"version": extra[0], "percent": round(float(extra[1]) * 100, 2)} if extra else None
        )
    return {
        "versions_tab": {
            "versions": versions,
            "aliases": aliases,
            "choices": ["$LATEST", *[v.version for v in versions]],
        }
    }
