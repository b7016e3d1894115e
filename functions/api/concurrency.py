"""Lambda API views for reserved concurrency and the account's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from awsapi.apiview import ApiResponse
from functions import selectors, zips
from functions.api.common import api_params
from functions.services import concurrency as services
from iam.authentication import ApiRequest, lambda_api


@lambda_api("PutFunctionConcurrency")
def put_function_concurrency(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "PutFunctionConcurrency", FunctionName=function_name)
    function = selectors.function_get_for_account(req.account, function_name)
    reserved = services.concurrency_put(
        function=function, reserved=int(params["ReservedConcurrentExecutions"])
    )
    return ApiResponse({"ReservedConcurrentExecutions": reserved})


@lambda_api("DeleteFunctionConcurrency")
def delete_function_concurrency(req: ApiRequest, function_name: str) -> ApiResponse:
    api_params(req, "DeleteFunctionConcurrency", body=False, FunctionName=function_name)
    function = selectors.function_get_for_account(req.account, function_name)
    services.concurrency_delete(function=function)
    return ApiResponse(None, status=204)


@lambda_api("GetFunctionConcurrency")
def get_function_concurrency(req: ApiRequest, function_name: str) -> ApiResponse:
    api_params(req, "GetFunctionConcurrency", body=False, FunctionName=function_name)
    function = selectors.function_get_for_account(req.account, function_name)
    body: dict[str, Any] = {}
    if function.reserved_concurrency is not None:
        body["ReservedConcurrentExecutions"] = function.reserved_concurrency
    return ApiResponse(body)


@lambda_api("GetAccountSettings")
def get_account_settings(req: ApiRequest) -> ApiResponse:
    api_params(req, "GetAccountSettings", body=False)
    return ApiResponse(
        {
            "AccountLimit": {
                "TotalCodeSize": settings.FUNCTORY_CODE_STORAGE_LIMIT,
                "CodeSizeUnzipped": zips.UNZIPPED_LIMIT,
                "CodeSizeZipped": zips.ZIPPED_LIMIT,
                "ConcurrentExecutions": settings.FUNCTORY_ACCOUNT_CONCURRENCY,
                "UnreservedConcurrentExecutions": selectors.unreserved_concurrency(req.account),
            },
            "AccountUsage": {
                "TotalCodeSize": selectors.code_storage_used(req.account),
                "FunctionCount": selectors.function_count(req.account),
            },
        }
    )
