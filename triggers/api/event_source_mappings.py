"""Lambda API views for event source mappings: thin callers of services and selectors."""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from functions.api.common import api_params
from iam.authentication import ApiRequest, lambda_api
from triggers import render, selectors
from triggers.models import EventSourceMapping
from triggers.services import event_source_mappings as services

# ListEventSourceMappings answers this many when MaxItems is not given.
DEFAULT_PAGE = 100


@lambda_api("CreateEventSourceMapping")
def create_event_source_mapping(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "CreateEventSourceMapping")
    mapping = services.mapping_create(account=req.account, params=params)
    return ApiResponse(
        render.mapping_configuration(mapping, state=EventSourceMapping.CREATING), status=202
    )


@lambda_api("GetEventSourceMapping")
def get_event_source_mapping(req: ApiRequest, uuid: str) -> ApiResponse:
    api_params(req, "GetEventSourceMapping", body=False, UUID=uuid)
    mapping = selectors.mapping_get_for_account(req.account, uuid)
    return ApiResponse(render.mapping_configuration(mapping))


@lambda_api("UpdateEventSourceMapping")
def update_event_source_mapping(req: ApiRequest, uuid: str) -> ApiResponse:
    params = api_params(req, "UpdateEventSourceMapping", UUID=uuid)
    mapping = selectors.mapping_get_for_account(req.account, uuid)
    updated = services.mapping_update(mapping=mapping, params=params)
    return ApiResponse(render.mapping_configuration(updated, state=updated.state), status=202)


@lambda_api("DeleteEventSourceMapping")
def delete_event_source_mapping(req: ApiRequest, uuid: str) -> ApiResponse:
    api_params(req, "DeleteEventSourceMapping", body=False, UUID=uuid)
    mapping = selectors.mapping_get_for_account(req.account, uuid)
    deleted = services.mapping_delete(mapping=mapping)
    return ApiResponse(
        render.mapping_configuration(deleted, state=EventSourceMapping.DELETING), status=202
    )


@lambda_api("ListEventSourceMappings")
def list_event_source_mappings(req: ApiRequest) -> ApiResponse:
    params = api_params(req, "ListEventSourceMappings", body=False)
    page, next_marker = selectors.mapping_list(
        req.account,
        event_source_arn=params.get("EventSourceArn"),
        function_name=params.get("FunctionName"),
        marker=params.get("Marker"),
        max_items=int(params.get("MaxItems") or DEFAULT_PAGE),
    )
    body: dict[str, Any] = {"EventSourceMappings": [render.mapping_configuration(m) for m in page]}
    if next_marker:
        body["NextMarker"] = next_marker
    return ApiResponse(body)
