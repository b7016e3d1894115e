"""Lambda API views for a function's resource-based policy."""

from __future__ import annotations

import json

from awsapi.apiview import ApiResponse
from awsapi.errors import ResourceNotFound
from functions import render, selectors
from functions.api.common import api_params
from functions.services import policies as services
from iam.authentication import ApiRequest, lambda_api


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@lambda_api("AddPermission")
def add_permission(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "AddPermission", FunctionName=function_name)
    resolved = selectors.function_resolve(
        req.account, function_name, params.get("Qualifier"), follow_alias=False
    )
    statement = services.permission_add(resolved=resolved, params=params)
    return ApiResponse({"Statement": _compact(statement)}, status=201)


@lambda_api("RemovePermission")
def remove_permission(req: ApiRequest, function_name: str, statement_id: str) -> ApiResponse:
    params = api_params(
        req, "RemovePermission", body=False, FunctionName=function_name, StatementId=statement_id
    )
    resolved = selectors.function_resolve(
        req.account, function_name, params.get("Qualifier"), follow_alias=False
    )
    services.permission_remove(
        resolved=resolved, sid=statement_id, revision_id=params.get("RevisionId")
    )
    return ApiResponse(None, status=204)


@lambda_api("GetPolicy")
def get_policy(req: ApiRequest, function_name: str) -> ApiResponse:
    params = api_params(req, "GetPolicy", body=False, FunctionName=function_name)
    resolved = selectors.function_resolve(
        req.account, function_name, params.get("Qualifier"), follow_alias=False
    )
    statements = selectors.policy_statements(resolved)
    if not statements:
        raise ResourceNotFound("The resource you requested does not exist.")
    return ApiResponse(
        {
            "Policy": _compact(render.policy_document(statements)),
            "RevisionId": selectors.policy_target_revision(resolved),
        }
    )
