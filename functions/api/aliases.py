"""Lambda API views for aliases: thin callers of services and selectors."""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from functions import pagination, render, selectors
from functions.api.common import api_params, max_items
from functions.services import aliases as services
from iam.authentication import ApiRequest, lambda_api


@lambda_api("CreateAlias")
def create_alias(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "CreateAlias", FunctionName=function_name)
    function = selectors.function_get_for_account(req.account, function_name)
    alias = services.alias_create(function=function, params=params)
    return ApiResponse(render.alias_configuration(alias), status=201)


@lambda_api("GetAlias")
def get_alias(req: ApiRequest, function_name: str, name: str) -> ApiResponse:
    api_params(req, "GetAlias", body=False, FunctionName=function_name, Name=name)
    function = selectors.function_get_for_account(req.account, function_name)
    return ApiResponse(render.alias_configuration(selectors.alias_get(function, name)))


@lambda_api("UpdateAlias")
def update_alias(req: ApiRequest, function_name: str, name: str) -> ApiResponse:
    params = api_params(req, "UpdateAlias", FunctionName=function_name, Name=name)
    function = selectors.function_get_for_account(req.account, function_name)
    alias = services.alias_update(function=function, name=name, params=params)
    return ApiResponse(render.alias_configuration(alias))


@lambda_api("DeleteAlias")
def delete_alias(req: ApiRequest, function_name: str, name: str) -> ApiResponse:
    api_params(req, "DeleteAlias", body=False, FunctionName=function_name, Name=name)
    function = selectors.function_get_for_account(req.account, function_name)
    services.alias_delete(function=function, name=name)
    return ApiResponse(None, status=204)


@lambda_api("ListAliases")
def list_aliases(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "ListAliases", body=False, FunctionName=function_name)
    function = selectors.function_get_for_account(req.account, function_name)
    limit = max_items(params)
    position = pagination.decode(params.get("Marker"), "aliases")
    aliases = function.aliases.order_by("name")
    if params.get("FunctionVersion"):
        aliases = aliases.filter(function_version=params["FunctionVersion"])
    if position is not None:
        aliases = aliases.filter(name__gt=str(position))
    page = list(aliases[: limit + 1])
    body: dict[str, Any] = {"Aliases": [render.alias_configuration(a) for a in page[:limit]]}
    if len(page) > limit:
        body["NextMarker"] = pagination.encode(page[limit - 1].name, "aliases")
    return ApiResponse(body)
