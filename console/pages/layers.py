"""Console: the layers page (publish, list, delete layer versions) and its JSON endpoints,
calling the same layer services as PublishLayerVersion and DeleteLayerVersion."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi.errors import AccessDenied, ResourceNotFound
from awsapi.service_models import service_model
from console import permissions
from console.pages._forms import account_of, checked, fields
from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import arns, render_layers
from functions.models import LayerVersion
from functions.services import functions as function_services
from functions.services import layers as layer_services
from iam.models import User
from platformapi.views import SignedInRequest

_PUBLISH_TEXTS = {
    "source for layer code": "content.zipFile",
    "ZipFile": "content.zipFile",
    "Zipped size": "content.zipFile",
    "zip": "content.zipFile",
    "storage": "content.zipFile",
}


def _principal(user: User) -> str:
    return f"arn:aws:iam::{user.account_id}:user/{user.get_username()}"


def runtimes() -> list[str]:
    """The runtimes a layer can be marked compatible with (deprecated ones left out)."""
    enum = service_model("lambda").shape_for("Runtime").enum
    return sorted(r for r in enum if r not in function_services.DEPRECATED_RUNTIMES)


@login_required
def layers_page(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    refused = permissions.denial(user, Action.LIST_LAYERS)
    if refused is not None:
        return permissions.denied_page(request, refused)
    account = account_of(request)
    versions = (
        LayerVersion.objects.filter(layer__account=account)
        .select_related("layer")
        .order_by("layer__name", "-number")
    )
    rows = [
        {
            "name": v.layer.name,
            "number": v.number,
            "arn": arns.layer_version_arn(account.id, v.layer.name, v.number),
            "description": v.description,
            "runtimes": v.compatible_runtimes,
            "architectures": v.compatible_architectures,
            "size": v.code_size,
            "created": v.created,
            "delete_denied": permissions.denial(
                user, Action.DELETE_LAYER, LayerName=v.layer.name, VersionNumber=v.number
            ),
        }
        for v in versions
    ]
    return render(
        request,
        "console/layers.html",
        {
            "versions": rows,
            "runtimes": runtimes(),
            "architectures": ["x86_64", "arm64"],
            "controls": {
                "publish_layer": permissions.denial(
                    user, Action.PUBLISH_LAYER, LayerName=permissions.NEW_LAYER
                )
            },
        },
    )


class PublishInput(serializers.Serializer[Any]):
    """PublishLayerVersion's members as the page sends them; their values are checked as
    the API checks them (an empty optional member is left out)."""

    LayerName = serializers.CharField(
        required=False, default="", allow_blank=True, allow_null=True, trim_whitespace=False
    )
    ZipFile = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="The .zip, base64-encoded."
    )
    Description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    LicenseInfo = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    CompatibleRuntimes = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )
    CompatibleArchitectures = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )


class PublishView(APIView):
    error_fields = {
        "LayerName": "layerName",
        "ZipFile": "content.zipFile",
        "Description": "description",
        "LicenseInfo": "licenseInfo",
        "CompatibleRuntimes": "compatibleRuntimes",
        "CompatibleArchitectures": "compatibleArchitectures",
    }

    @extend_schema(
        request=PublishInput,
        responses={
            201: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The new version, as ListLayerVersions lists it "
                "(LayerVersionsListItem).",
            )
        },
    )
    def post(self, request: SignedInRequest) -> Response:
        """Publish a layer version, through PublishLayerVersion's service."""
        data = PublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        name = values["LayerName"] or ""
        params: dict[str, Any] = {"Content": {"ZipFile": values["ZipFile"]}}
        for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if values.get(key):
                params[key] = values[key]
        user = request.user
        with fields("publish", _PUBLISH_TEXTS):
            if params["Content"]["ZipFile"] is None:
                params["Content"] = {}
            params = checked("PublishLayerVersion", params, LayerName=name)
            require(request, Action.PUBLISH_LAYER, LayerName=name)
            version = layer_services.layer_version_publish(
                account=user.account, layer_name=name, params=params, principal=_principal(user)
            )
        return Response(render_layers.layer_version_summary(version), status=201)


class DeleteView(APIView):
    @extend_schema(
        # The URL's int converter takes no sign: a negative number is no route at all.
        parameters=[
            OpenApiParameter(
                "number",
                {"type": "integer", "minimum": 0},
                OpenApiParameter.PATH,
                description="The layer version.",
            )
        ],
        responses={204: None},
    )
    def delete(self, request: SignedInRequest, name: str, number: int) -> Response:
        """Delete a layer version of the caller's account, through DeleteLayerVersion's
        service."""
        user = request.user
        account = user.account
        # The one permission-checked fetch: another account's layer is not found here.
        try:
            version = layer_services.layer_version_get_for_account(account, name, number)
        except AccessDenied as exc:
            raise ResourceNotFound(layer_services.NOT_FOUND) from exc
        if version.layer.account_id != account.id:
            raise ResourceNotFound(layer_services.NOT_FOUND)
        checked("DeleteLayerVersion", {}, LayerName=name, VersionNumber=number)
        require(request, Action.DELETE_LAYER, LayerName=name, VersionNumber=number)
        layer_services.layer_version_delete(
            account=account, layer_name=name, number=number, principal=_principal(user)
        )
        return Response(status=204)


urlpatterns: list[Any] = [
    path("layers/", layers_page, name="layers"),
    path("layers/publish", PublishView.as_view(), name="layers-publish"),
    path("layers/<str:name>/<int:number>", DeleteView.as_view(), name="layers-delete"),
]
