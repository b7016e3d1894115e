"""Lambda API views for asynchronous-invocation settings (EventInvokeConfig)."""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from functions import pagination, render, selectors
from functions.api.common import api_params, max_items
from functions.services import event_invoke as services
from iam.authentication import ApiRequest, lambda_api


@lambda_api("PutFunctionEventInvokeConfig")
def put_function_event_invoke_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "PutFunctionEventInvokeConfig", FunctionName=function_name)
    resolved = selectors.event_invoke_resolve(
        req.account, function_name, params.get("Qualifier"), reading=False
    )
    config = services.event_invoke_config_put(resolved=resolved, params=params)
    return ApiResponse(render.event_invoke_config(config))


@lambda_api("UpdateFunctionEventInvokeConfig")
def update_function_event_invoke_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "UpdateFunctionEventInvokeConfig", FunctionName=function_name)
    resolved = selectors.event_invoke_resolve(
        req.account, function_name, params.get("Qualifier"), reading=False
    )
    config = services.event_invoke_config_update(resolved=resolved, params=params)
    return ApiResponse(render.event_invoke_config(config))


@lambda_api("GetFunctionEventInvokeConfig")
def get_function_event_invoke_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "GetFunctionEventInvokeConfig", body=False, FunctionName=function_name)
    resolved = selectors.event_invoke_resolve(
        req.account, function_name, params.get("Qualifier"), reading=True
    )
    return ApiResponse(render.event_invoke_config(selectors.event_invoke_config_get(resolved)))


@lambda_api("DeleteFunctionEventInvokeConfig")
def delete_function_event_invoke_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(
        req, "DeleteFunctionEventInvokeConfig", body=False, FunctionName=function_name
    )
    resolved = selectors.event_invoke_resolve(
        req.account, function_name, params.get("Qualifier"), reading=True
    )
    services.event_invoke_config_delete(resolved=resolved)
    return ApiResponse(None, status=204)


@lambda_api("ListFunctionEventInvokeConfigs")
def list_function_event_invoke_configs(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(
        req, "ListFunctionEventInvokeConfigs", body=False, FunctionName=function_name
    )
    resolved = selectors.event_invoke_resolve(req.account, function_name, reading=False)
    limit = max_items(params)
    position = pagination.decode(params.get("Marker"), "event-invoke-configs")
    page = selectors.event_invoke_configs_page(
        resolved.function, None if position is None else str(position), limit
    )
    body: dict[str, Any] = {
        "FunctionEventInvokeConfigs": [render.event_invoke_config(c) for c in page[:limit]]
    }
    if len(page) > limit:
        body["NextMarker"] = pagination.encode(page[limit - 1].qualifier, "event-invoke-configs")
    return ApiResponse(body)
