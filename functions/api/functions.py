"""Lambda API views for functions and versions: thin callers of services and selectors."""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from awsapi.errors import InvalidParameterValue, ValidationError
from functions import arns, code_location, render, selectors
from functions.api.common import api_params, max_items
from functions.models import Function, FunctionVersion
from functions.services import functions as services
from iam.authentication import ApiRequest, lambda_api

MAX_NAME_LENGTH = 64


def _new_function_name(req: ApiRequest, value: str) -> str:
    ref = arns.parse_function_name(value)
    if ref is None or ref.qualifier is not None:
        raise InvalidParameterValue("The function name must not carry a qualifier.")
    if ref.account_id not in (None, req.account.id):
        raise InvalidParameterValue(
            "The function ARN must name a function in the caller's account."
        )
    if len(ref.name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"1 validation error detected: Value '{ref.name}' at 'functionName' failed to "
            f"satisfy constraint: Member must have length less than or equal to {MAX_NAME_LENGTH}"
        )
    return ref.name


@lambda_api("CreateFunction")
def create_function(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "CreateFunction")
    name = _new_function_name(req, params["FunctionName"])
    version = services.function_create(account=req.account, name=name, params=params)
    return ApiResponse(render.function_configuration(version), status=201)


@lambda_api("GetFunction")
def get_function(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "GetFunction", body=False, FunctionName=function_name)
    # Another account's function when its policy grants lambda:GetFunction to the caller.
    resolved = selectors.function_resolve(
        req.resource_account, function_name, params.get("Qualifier")
    )
    assert resolved.version is not None
    version = resolved.version
    body: dict[str, Any] = {
        "Configuration": render.function_configuration(version, qualifier=resolved.qualifier),
        "Code": render.image_code_location(version)
        if version.package_type == "Image"
        else {
            "RepositoryType": "S3",
            "Location": code_location.url_for(
                req.http,
                resolved.function.account_id,
                version.code_id or "",
                f"{resolved.function.name}.zip",
            ),
        },
    }
    if resolved.function.tags:
        body["Tags"] = dict(resolved.function.tags)
    if resolved.function.reserved_concurrency is not None:
        body["Concurrency"] = {
            "ReservedConcurrentExecutions": resolved.function.reserved_concurrency
        }
    return ApiResponse(body)


@lambda_api("GetFunctionConfiguration")
def get_function_configuration(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "GetFunctionConfiguration", body=False, FunctionName=function_name)
    resolved = selectors.function_resolve(
        req.resource_account, function_name, params.get("Qualifier")
    )
    assert resolved.version is not None
    return ApiResponse(
        render.function_configuration(resolved.version, qualifier=resolved.qualifier)
    )


@lambda_api("DeleteFunction")
def delete_function(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "DeleteFunction", body=False, FunctionName=function_name)
    resolved = selectors.function_resolve(
        req.account, function_name, params.get("Qualifier"), follow_alias=False
    )
    services.function_delete(resolved=resolved)
    return ApiResponse(None, status=204)


@lambda_api("UpdateFunctionCode")
def update_function_code(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "UpdateFunctionCode", FunctionName=function_name)
    resolved = selectors.function_resolve(req.account, function_name)
    version = services.function_update_code(resolved=resolved, params=params)
    return ApiResponse(render.function_configuration(version))


@lambda_api("UpdateFunctionConfiguration")
def update_function_configuration(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "UpdateFunctionConfiguration", FunctionName=function_name)
    resolved = selectors.function_resolve(req.account, function_name)
    version = services.function_update_configuration(resolved=resolved, params=params)
    return ApiResponse(render.function_configuration(version))


@lambda_api("ListFunctions")
def list_functions(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "ListFunctions", body=False)
    page, next_marker = selectors.function_list(
        req.account,
        marker=params.get("Marker"),
        max_items=max_items(params),
        all_versions=params.get("FunctionVersion") == "ALL",
    )
    body: dict[str, Any] = {"Functions": render.listed_configurations(page)}
    if next_marker is not None:
        body["NextMarker"] = next_marker
    return ApiResponse(body)


@lambda_api("PublishVersion")
def publish_version(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "PublishVersion", FunctionName=function_name)
    resolved = selectors.function_resolve(req.account, function_name)
    if resolved.qualifier not in (None, FunctionVersion.LATEST):
        raise InvalidParameterValue("Only the $LATEST version of a function can be published.")
    version = services.version_publish(resolved=resolved, params=params)
    return ApiResponse(render.function_configuration(version), status=201)


@lambda_api("ListVersionsByFunction")
def list_versions_by_function(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "ListVersionsByFunction", body=False, FunctionName=function_name)
    function: Function = selectors.function_get_for_account(req.account, function_name)
    page, next_marker = selectors.version_list(
        function, marker=params.get("Marker"), max_items=max_items(params)
    )
    layers = selectors.layers_of(page)
    body: dict[str, Any] = {
        "Versions": [
            render.function_configuration(v, qualifier=v.version, layers=layers[v.pk]) for v in page
        ]
    }
    if next_marker is not None:
        body["NextMarker"] = next_marker
    return ApiResponse(body)
