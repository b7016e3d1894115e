"""Console: the layers page (publish, list, delete layer versions) and its JSON endpoints,
calling the same layer services as PublishLayerVersion and DeleteLayerVersion."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from awsapi.errors import AccessDenied, ResourceNotFound
from awsapi.service_models import service_model
from console.consoleapi import console_json, request_json
from console.pages._forms import account_of, checked, fields
from console.pages._request import ConsoleRequest
from functions import arns, render_layers
from functions.models import LayerVersion
from functions.services import functions as function_services
from functions.services import layers as layer_services

_PUBLISH_TEXTS = {
    "source for layer code": "content.zipFile",
    "ZipFile": "content.zipFile",
    "Zipped size": "content.zipFile",
    "zip": "content.zipFile",
    "storage": "content.zipFile",
}


def _principal(request: ConsoleRequest) -> str:
    return f"arn:aws:iam::{account_of(request).id}:user/{request.user.get_username()}"


def runtimes() -> list[str]:
    """The runtimes a layer can be marked compatible with (deprecated ones left out)."""
    enum = service_model("lambda").shape_for("Runtime").enum
    return sorted(r for r in enum if r not in function_services.DEPRECATED_RUNTIMES)


@login_required
def layers_page(request: ConsoleRequest) -> HttpResponse:
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
        }
        for v in versions
    ]
    return render(
        request,
        "console/layers.html",
        {"versions": rows, "runtimes": runtimes(), "architectures": ["x86_64", "arm64"]},
    )


@console_json
@require_POST
def publish(request: ConsoleRequest) -> dict[str, Any]:
    data = request_json(request)
    name = str(data.get("LayerName") or "")
    params: dict[str, Any] = {"Content": {"ZipFile": data.get("ZipFile")}}
    for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        if data.get(key):
            params[key] = data[key]
    with fields("publish", _PUBLISH_TEXTS):
        if params["Content"]["ZipFile"] is None:
            params["Content"] = {}
        params = checked("PublishLayerVersion", params, LayerName=name)
        version = layer_services.layer_version_publish(
            account=account_of(request),
            layer_name=name,
            params=params,
            principal=_principal(request),
        )
    return render_layers.layer_version_summary(version)


@console_json
@require_http_methods(["DELETE"])
def delete(request: ConsoleRequest, name: str, number: int) -> None:
    account = account_of(request)
    # The one permission-checked fetch: another account's layer is not found here.
    try:
        version = layer_services.layer_version_get_for_account(account, name, number)
    except AccessDenied as exc:
        raise ResourceNotFound(layer_services.NOT_FOUND) from exc
    if version.layer.account_id != account.id:
        raise ResourceNotFound(layer_services.NOT_FOUND)
    checked("DeleteLayerVersion", {}, LayerName=name, VersionNumber=number)
    layer_services.layer_version_delete(
        account=account, layer_name=name, number=number, principal=_principal(request)
    )
    return None


urlpatterns: list[Any] = [
    path("layers/", layers_page, name="layers"),
    path("layers/publish", publish, name="layers-publish"),
    path("layers/<str:name>/<int:number>", delete, name="layers-delete"),
]
