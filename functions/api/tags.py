"""Lambda API views for tags; ``Resource`` is a full, unqualified function ARN."""

from __future__ import annotations

from awsapi.apiview import ApiResponse
from functions import selectors
from functions.api.common import api_params
from functions.services import tags as services
from iam.authentication import ApiRequest, lambda_api


@lambda_api("TagResource")
def tag_resource(req: ApiRequest, resource: str) -> ApiResponse:
    params = api_params(req, "TagResource", Resource=resource)
    function = selectors.function_get_by_arn(req.account, resource)
    services.tags_add(function=function, tags=params["Tags"])
    return ApiResponse(None, status=204)


@lambda_api("UntagResource")
def untag_resource(req: ApiRequest, resource: str) -> ApiResponse:
    params = api_params(req, "UntagResource", body=False, Resource=resource)
    function = selectors.function_get_by_arn(req.account, resource)
    services.tags_remove(function=function, keys=params["TagKeys"])
    return ApiResponse(None, status=204)


@lambda_api("ListTags")
def list_tags(req: ApiRequest, resource: str) -> ApiResponse:
    api_params(req, "ListTags", body=False, Resource=resource)
    function = selectors.function_get_by_arn(req.account, resource)
    return ApiResponse({"Tags": dict(function.tags)})
