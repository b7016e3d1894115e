"""Lambda API views for provisioned concurrency (one path: List has ``List=ALL``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from awsapi.apiview import ApiResponse
from awsapi.errors import InvalidParameterValue
from functions import pagination, render, selectors
from functions.api.common import api_params, max_items
from functions.models import FunctionVersion
from functions.services import provisioned as services
from iam.authentication import ApiRequest, lambda_api


@lambda_api("PutProvisionedConcurrencyConfig")
def put_provisioned_concurrency_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "PutProvisionedConcurrencyConfig", FunctionName=function_name)
    if params["Qualifier"] == FunctionVersion.LATEST:
        raise InvalidParameterValue(services.UNPUBLISHED)
    resolved = selectors.provisioned_resolve(req.account, function_name, params["Qualifier"])
    config = services.provisioned_config_put(
        resolved=resolved, requested=int(params["ProvisionedConcurrentExecutions"])
    )
    return ApiResponse(render.provisioned_config(config, just_put=True), status=202)


def get_or_list(request: HttpRequest, function_name: str) -> HttpResponse:
    """GET on the path is ListProvisionedConcurrencyConfigs with ``List=ALL``."""
    if request.GET.get("List") == "ALL":
        return list_provisioned_concurrency_configs(request, function_name=function_name)
    return get_provisioned_concurrency_config(request, function_name=function_name)


@lambda_api("GetProvisionedConcurrencyConfig")
def get_provisioned_concurrency_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(
        req, "GetProvisionedConcurrencyConfig", body=False, FunctionName=function_name
    )
    resolved = selectors.provisioned_resolve(req.account, function_name, params["Qualifier"])
    config = selectors.provisioned_config_get(resolved)
    return ApiResponse(render.provisioned_config(config, listed=False))


@lambda_api("DeleteProvisionedConcurrencyConfig")
def delete_provisioned_concurrency_config(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(
        req, "DeleteProvisionedConcurrencyConfig", body=False, FunctionName=function_name
    )
    resolved = selectors.provisioned_resolve(req.account, function_name, params["Qualifier"])
    services.provisioned_config_delete(resolved=resolved)
    return ApiResponse(None, status=204)


@lambda_api("ListProvisionedConcurrencyConfigs")
def list_provisioned_concurrency_configs(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(
        req, "ListProvisionedConcurrencyConfigs", body=False, FunctionName=function_name
    )
    function = selectors.function_get_for_account(req.account, function_name)
    limit = max_items(params)
    position = pagination.decode(params.get("Marker"), "provisioned-configs")
    page = selectors.provisioned_configs_page(
        function, None if position is None else str(position), limit
    )
    body: dict[str, Any] = {
        "ProvisionedConcurrencyConfigs": [
            render.provisioned_config(config, listed=True) for config in page[:limit]
        ]
    }
    if len(page) > limit:
        body["NextMarker"] = pagination.encode(page[limit - 1].qualifier, "provisioned-configs")
    return ApiResponse(body)
