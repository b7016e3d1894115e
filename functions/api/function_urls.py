"""Lambda API views for function URLs (the 2021-10-31 paths): thin callers of services
and selectors. ``FunctionUrl`` is built for the server that answered (see
:mod:`functions.function_urls`)."""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from functions import pagination, render, selectors
from functions.api.common import api_params, max_items
from functions.function_urls import function_url
from functions.models import FunctionUrlConfig
from functions.services import function_urls as services
from iam.authentication import ApiRequest, lambda_api


def _render(req: ApiRequest, config: FunctionUrlConfig, **shown: bool) -> dict[str, Any]:
    return render.function_url_config(config, function_url(config, req.http), **shown)


@lambda_api("CreateFunctionUrlConfig")
def create_function_url_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "CreateFunctionUrlConfig", FunctionName=function_name)
    target = selectors.url_target(
        req.account, function_name, params.get("Qualifier"), missing=selectors.FUNCTION_MISSING
    )
    config = services.function_url_config_create(target=target, params=params)
    body = _render(req, config, last_modified=False, invoke_mode="InvokeMode" in params)
    return ApiResponse(body, status=201)


@lambda_api("GetFunctionUrlConfig")
def get_function_url_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "GetFunctionUrlConfig", body=False, FunctionName=function_name)
    target = selectors.url_target(
        req.account, function_name, params.get("Qualifier"), missing=selectors.RESOURCE_MISSING
    )
    return ApiResponse(_render(req, selectors.function_url_config_get(target)))


@lambda_api("UpdateFunctionUrlConfig")
def update_function_url_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "UpdateFunctionUrlConfig", FunctionName=function_name)
    target = selectors.url_target(
        req.account, function_name, params.get("Qualifier"), missing=selectors.FUNCTION_MISSING
    )
    config = services.function_url_config_update(target=target, params=params)
    return ApiResponse(_render(req, config, invoke_mode="InvokeMode" in params))


@lambda_api("DeleteFunctionUrlConfig")
def delete_function_url_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "DeleteFunctionUrlConfig", body=False, FunctionName=function_name)
    target = selectors.url_target(
        req.account, function_name, params.get("Qualifier"), missing=selectors.RESOURCE_MISSING
    )
    services.function_url_config_delete(target=target)
    return ApiResponse(None, status=204)


@lambda_api("ListFunctionUrlConfigs")
def list_function_url_configs(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "ListFunctionUrlConfigs", body=False, FunctionName=function_name)
    target = selectors.url_target(
        req.account, function_name, None, missing=selectors.FUNCTION_MISSING
    )
    limit = max_items(params)
    position = pagination.decode(params.get("Marker"), "function-urls")
    page = selectors.function_url_configs_page(
        target.function, None if position is None else str(position), limit
    )
    body: dict[str, Any] = {"FunctionUrlConfigs": [_render(req, c) for c in page[:limit]]}
    if len(page) > limit:
        body["NextMarker"] = pagination.encode(page[limit - 1].qualifier, "function-urls")
    return ApiResponse(body)
