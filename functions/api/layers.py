"""Lambda API views for layers, layer versions and their permissions: thin callers of
the layer services and selectors."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from awsapi.apiview import ApiResponse
from awsapi.errors import InvalidParameterValue, ValidationError
from functions import code_location, pagination, render_layers
from functions.api.common import api_params, max_items
from functions.models import LayerVersion
from functions.services import layers as services
from iam.authentication import ApiRequest, lambda_api
from iam.models import TemporaryCredential


def _principal(req: ApiRequest) -> str:
    """The caller as IAM names it in access-denied messages."""
    if isinstance(req.credential, TemporaryCredential) and req.credential.role_id is not None:
        return req.credential.arn  # a role's session (an execution role's has no user)
    assert req.user is not None
    return f"arn:aws:iam::{req.account.id}:user/{req.user.username}"


def _version_number(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            f"1 validation error detected: Value '{raw}' at 'versionNumber' failed to "
            "satisfy constraint: Member must be a number"
        ) from None


def _marker(params: dict[str, Any], kind: type) -> Any:
    position = pagination.decode(params.get("Marker"), f"layers-{kind.__name__}")
    if position is not None and (type(position) is not kind):
        raise InvalidParameterValue("Invalid marker")
    return position


def _detail(req: ApiRequest, version: LayerVersion) -> dict[str, Any]:
    layer = version.layer
    location = code_location.url_for(
        req.http, layer.account_id, version.code_id, f"{layer.name}-{version.number}.zip"
    )
    return render_layers.layer_version(version, location)


@lambda_api("PublishLayerVersion")
def publish_layer_version(req: ApiRequest, layer_name: str) -> ApiResponse:
    params = api_params(req, "PublishLayerVersion", LayerName=layer_name)
    version = services.layer_version_publish(
        account=req.account, layer_name=layer_name, params=params, principal=_principal(req)
    )
    return ApiResponse(_detail(req, version), status=201)


@lambda_api("ListLayers")
def list_layers(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "ListLayers", body=False)
    limit = max_items(params)
    page = services.layers_list(
        req.account,
        runtime=params.get("CompatibleRuntime"),
        architecture=params.get("CompatibleArchitecture"),
        after=_marker(params, str),
        limit=limit,
    )
    body: dict[str, Any] = {"Layers": [render_layers.layers_list_item(v) for v in page.items]}
    if page.more:
        body["NextMarker"] = pagination.encode(page.items[-1].layer.name, "layers-str")
    return ApiResponse(body)


@lambda_api("GetLayerVersionByArn")
def get_layer_version_by_arn(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "GetLayerVersionByArn", body=False)
    version = services.layer_version_get_by_arn(
        req.account, params["Arn"], principal=_principal(req)
    )
    return ApiResponse(_detail(req, version))


def layers_root(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """``GET /2018-10-31/layers`` is ListLayers, or GetLayerVersionByArn with ``find``."""
    if request.GET.get("find") == "LayerVersion":
        response: HttpResponse = get_layer_version_by_arn(request, **kwargs)
    else:
        response = list_layers(request, **kwargs)
    return response


@lambda_api("ListLayerVersions")
def list_layer_versions(req: ApiRequest, layer_name: str) -> ApiResponse:
    params = api_params(req, "ListLayerVersions", body=False, LayerName=layer_name)
    page = services.layer_versions_list(
        req.account,
        layer_name,
        runtime=params.get("CompatibleRuntime"),
        architecture=params.get("CompatibleArchitecture"),
        below=_marker(params, int),
        limit=max_items(params),
        principal=_principal(req),
    )
    body: dict[str, Any] = {
        "LayerVersions": [render_layers.layer_version_summary(v) for v in page.items]
    }
    if page.more:
        body["NextMarker"] = pagination.encode(page.items[-1].number, "layers-int")
    return ApiResponse(body)


@lambda_api("GetLayerVersion")
def get_layer_version(req: ApiRequest, layer_name: str, version_number: str) -> ApiResponse:
    number = _version_number(version_number)
    api_params(req, "GetLayerVersion", body=False, LayerName=layer_name, VersionNumber=number)
    version = services.layer_version_get_for_account(
        req.account, layer_name, number, principal=_principal(req)
    )
    return ApiResponse(_detail(req, version))


@lambda_api("DeleteLayerVersion")
def delete_layer_version(req: ApiRequest, layer_name: str, version_number: str) -> ApiResponse:
    number = _version_number(version_number)
    api_params(req, "DeleteLayerVersion", body=False, LayerName=layer_name, VersionNumber=number)
    services.layer_version_delete(
        account=req.account, layer_name=layer_name, number=number, principal=_principal(req)
    )
    return ApiResponse(None, status=204)


@lambda_api("AddLayerVersionPermission")
def add_layer_version_permission(
    req: ApiRequest, layer_name: str, version_number: str
) -> ApiResponse:
    number = _version_number(version_number)
    params = api_params(
        req, "AddLayerVersionPermission", LayerName=layer_name, VersionNumber=number
    )
    statement, revision_id = services.layer_permission_add(
        account=req.account,
        layer_name=layer_name,
        number=number,
        params=params,
        principal=_principal(req),
    )
    return ApiResponse(
        {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision_id},
        status=201,
    )


@lambda_api("GetLayerVersionPolicy")
def get_layer_version_policy(req: ApiRequest, layer_name: str, version_number: str) -> ApiResponse:
    number = _version_number(version_number)
    api_params(req, "GetLayerVersionPolicy", body=False, LayerName=layer_name, VersionNumber=number)
    policy, revision_id = services.layer_policy_get(
        req.account, layer_name, number, principal=_principal(req)
    )
    return ApiResponse({"Policy": policy, "RevisionId": revision_id})


@lambda_api("RemoveLayerVersionPermission")
def remove_layer_version_permission(
    req: ApiRequest, layer_name: str, version_number: str, statement_id: str
) -> ApiResponse:
    number = _version_number(version_number)
    params = api_params(
        req,
        "RemoveLayerVersionPermission",
        body=False,
        LayerName=layer_name,
        VersionNumber=number,
        StatementId=statement_id,
    )
    services.layer_permission_remove(
        account=req.account,
        layer_name=layer_name,
        number=number,
        sid=statement_id,
        revision_id=params.get("RevisionId"),
        principal=_principal(req),
    )
    return ApiResponse(None, status=204)
