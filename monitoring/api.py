"""The CloudWatch Logs API subset (JSON 1.1, ``X-Amz-Target: Logs_20140328.<Op>``).

Thin views: they validate the input against the botocore ``logs`` model, call a selector
or service, and render the model's output shapes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from awsapi import strictjson
from awsapi.apiview import ApiResponse
from awsapi.errors import InvalidRequestContent, ValidationError
from awsapi.validation import validate
from iam.authentication import ApiRequest, json_rpc_api
from monitoring import errors, log_filters, selectors, services
from monitoring.insights import selectors as query_selectors
from monitoring.insights import services as query_services
from monitoring.models import LogFilter, LogGroup, LogStream

TARGET_PREFIX = "Logs_20140328"
# PutLogEvents carries up to 1 MB of messages; JSON escaping can grow that several-fold.
MAX_BODY_BYTES = 8 * 1024 * 1024


def _params(req: ApiRequest, operation: str) -> dict[str, Any]:
    """The request's members, checked against the model. CloudWatch Logs reports model
    violations as InvalidParameterException and malformed JSON as SerializationException."""
    try:
        params = strictjson.nul_replaced(req.json())
        validate("logs", operation, params)
    except ValidationError as error:
        raise errors.InvalidParameter(error.message) from None
    except InvalidRequestContent as error:
        raise errors.SerializationError(error.message) from None
    return params


def _group_arn(group: LogGroup) -> str:
    return f"arn:aws:logs:{settings.FUNCTORY_REGION}:{group.account_id}:log-group:{group.name}"


def _render_group(group: LogGroup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": int(getattr(group, "metric_filters", 0) or 0),
        "arn": f"{_group_arn(group)}:*",
        "storedBytes": int(getattr(group, "stored", 0) or 0),
        "logGroupClass": "STANDARD",
        "logGroupArn": _group_arn(group),
    }
    if group.retention_days is not None:
        body["retentionInDays"] = group.retention_days
    return body


def _render_stream(group: LogGroup, stream: LogStream) -> dict[str, Any]:
    body: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created,
        "arn": f"{_group_arn(group)}:log-stream:{stream.name}",
        "storedBytes": stream.stored_bytes,
    }
    for key, value in (
        ("firstEventTimestamp", stream.first_event),
        ("lastEventTimestamp", stream.last_event),
        ("lastIngestionTime", stream.last_ingestion),
    ):
        if value is not None:
            body[key] = value
    return body


def _group(req: ApiRequest, params: dict[str, Any]) -> LogGroup:
    return selectors.log_group_get_for_account(
        req.account, params.get("logGroupName"), params.get("logGroupIdentifier")
    )


def describe_log_groups(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeLogGroups")
    groups, token = selectors.log_groups_list(
        req.account,
        prefix=params.get("logGroupNamePrefix"),
        limit=params.get("limit") or 50,
        token=params.get("nextToken"),
    )
    body: dict[str, Any] = {"logGroups": [_render_group(group) for group in groups]}
    if token:
        body["nextToken"] = token
    return ApiResponse(body)


def describe_log_streams(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeLogStreams")
    group = _group(req, params)
    streams, token = selectors.log_streams_list(
        group,
        prefix=params.get("logStreamNamePrefix"),
        order_by=params.get("orderBy") or "LogStreamName",
        descending=bool(params.get("descending")),
        limit=params.get("limit") or 50,
        token=params.get("nextToken"),
    )
    body: dict[str, Any] = {"logStreams": [_render_stream(group, s) for s in streams]}
    if token:
        body["nextToken"] = token
    return ApiResponse(body)


def get_log_events(req: ApiRequest) -> ApiResponse:
    params = _params(req, "GetLogEvents")
    group = _group(req, params)
    stream = selectors.log_stream_get(group, params["logStreamName"])
    events, forward, backward = selectors.log_events_get(
        stream,
        start=params.get("startTime"),
        end=params.get("endTime"),
        token=params.get("nextToken"),
        limit=params.get("limit"),
        start_from_head=bool(params.get("startFromHead")),
    )
    return ApiResponse(
        {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                for e in events
            ],
            "nextForwardToken": forward,
            "nextBackwardToken": backward,
        }
    )


def filter_log_events(req: ApiRequest) -> ApiResponse:
    params = _params(req, "FilterLogEvents")
    group = _group(req, params)
    start_from_head = params.get("startFromHead")
    events, token = selectors.log_events_filter(
        group,
        stream_names=params.get("logStreamNames"),
        stream_prefix=params.get("logStreamNamePrefix"),
        start=params.get("startTime"),
        end=params.get("endTime"),
        pattern=params.get("filterPattern"),
        limit=params.get("limit"),
        token=params.get("nextToken"),
        start_from_head=True if start_from_head is None else bool(start_from_head),
    )
    body: dict[str, Any] = {
        "events": [
            {
                "logStreamName": e.stream_name,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": e.event_id,
            }
            for e in events
        ],
        # CloudWatch has answered an empty list here since May 2020 (see the model).
        "searchedLogStreams": [],
    }
    if token:
        body["nextToken"] = token
    return ApiResponse(body)


def create_log_group(req: ApiRequest) -> ApiResponse:
    params = _params(req, "CreateLogGroup")
    services.log_group_create(req.account, params["logGroupName"], params.get("tags"))
    return ApiResponse()


def delete_log_group(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteLogGroup")
    services.log_group_delete(req.account, params["logGroupName"])
    return ApiResponse()


def put_retention_policy(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutRetentionPolicy")
    services.log_group_retention_set(
        req.account, params["logGroupName"], int(params["retentionInDays"])
    )
    return ApiResponse()


def delete_retention_policy(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteRetentionPolicy")
    services.log_group_retention_set(req.account, params["logGroupName"], None)
    return ApiResponse()


def create_log_stream(req: ApiRequest) -> ApiResponse:
    params = _params(req, "CreateLogStream")
    services.log_stream_create(req.account, params["logGroupName"], params["logStreamName"])
    return ApiResponse()


def put_log_events(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutLogEvents")
    result = services.log_events_put(
        req.account,
        params["logGroupName"],
        params["logStreamName"],
        [(int(event["timestamp"]), event["message"]) for event in params["logEvents"]],
    )
    body: dict[str, Any] = {"nextSequenceToken": result.next_sequence_token}
    if result.rejected:
        body["rejectedLogEventsInfo"] = result.rejected
    return ApiResponse(body)


def delete_log_stream(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteLogStream")
    services.log_stream_delete(req.account, params["logGroupName"], params["logStreamName"])
    return ApiResponse()


# ---- metric and subscription filters ----------------------------------------------------------


def put_metric_filter(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutMetricFilter")
    log_filters.metric_filter_put(
        req.account,
        params["logGroupName"],
        params["filterName"],
        params["filterPattern"],
        params["metricTransformations"],
    )
    return ApiResponse()


def _render_metric_filter(row: LogFilter) -> dict[str, Any]:
    return {
        "filterName": row.name,
        "filterPattern": row.pattern,
        "metricTransformations": row.spec.get("metricTransformations", []),
        "creationTime": row.created,
        "logGroupName": row.group.name,
        "applyOnTransformedLogs": False,
    }


def describe_metric_filters(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeMetricFilters")
    rows, token = log_filters.metric_filters_list(
        req.account,
        group_name=params.get("logGroupName"),
        prefix=params.get("filterNamePrefix"),
        metric_name=params.get("metricName"),
        metric_namespace=params.get("metricNamespace"),
        limit=params.get("limit") or 50,
        token=params.get("nextToken"),
    )
    body: dict[str, Any] = {"metricFilters": [_render_metric_filter(row) for row in rows]}
    if token:
        body["nextToken"] = token
    return ApiResponse(body)


def delete_metric_filter(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteMetricFilter")
    log_filters.metric_filter_delete(req.account, params["logGroupName"], params["filterName"])
    return ApiResponse()


def test_metric_filter(req: ApiRequest) -> ApiResponse:
    params = _params(req, "TestMetricFilter")
    matches = log_filters.metric_filter_test(params["filterPattern"], params["logEventMessages"])
    return ApiResponse({"matches": matches})


def put_subscription_filter(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutSubscriptionFilter")
    log_filters.subscription_filter_put(
        req.account,
        params["logGroupName"],
        params["filterName"],
        params["filterPattern"],
        params["destinationArn"],
        role_arn=params.get("roleArn"),
        distribution=params.get("distribution"),
    )
    return ApiResponse()


def describe_subscription_filters(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeSubscriptionFilters")
    rows, token = log_filters.filters_list(
        req.account,
        LogFilter.Kind.SUBSCRIPTION,
        group_name=params["logGroupName"],
        prefix=params.get("filterNamePrefix"),
        limit=params.get("limit") or 50,
        token=params.get("nextToken"),
    )
    filters = []
    for row in rows:
        rendered = {
            "filterName": row.name,
            "logGroupName": row.group.name,
            "filterPattern": row.pattern,
            "destinationArn": row.spec["destinationArn"],
            "distribution": row.spec.get("distribution", "ByLogStream"),
            "applyOnTransformedLogs": False,
            "creationTime": row.created,
        }
        if row.spec.get("roleArn"):
            rendered["roleArn"] = row.spec["roleArn"]
        filters.append(rendered)
    body: dict[str, Any] = {"subscriptionFilters": filters}
    if token:
        body["nextToken"] = token
    return ApiResponse(body)


def delete_subscription_filter(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteSubscriptionFilter")
    log_filters.subscription_filter_delete(
        req.account, params["logGroupName"], params["filterName"]
    )
    return ApiResponse()


# ---- tags -------------------------------------------------------------------------------------


def _tagged_group(req: ApiRequest, arn: str) -> LogGroup:
    if not arn.startswith("arn:") or ":log-group:" not in arn:
        raise errors.InvalidParameter(f"Invalid resourceArn: {arn}")
    try:
        return selectors.log_group_get_for_account(req.account, identifier=arn)
    except errors.ResourceNotFound:
        raise errors.ResourceNotFound(f"The specified resource {arn} does not exist.") from None


def tag_resource(req: ApiRequest) -> ApiResponse:
    params = _params(req, "TagResource")
    group = _tagged_group(req, params["resourceArn"])
    services.log_group_tags_add(group, params["tags"], too_many=services.TooManyTags)
    return ApiResponse()


def untag_resource(req: ApiRequest) -> ApiResponse:
    params = _params(req, "UntagResource")
    group = _tagged_group(req, params["resourceArn"])
    services.log_group_tags_remove(group, params["tagKeys"])
    return ApiResponse()


def list_tags_for_resource(req: ApiRequest) -> ApiResponse:
    params = _params(req, "ListTagsForResource")
    group = _tagged_group(req, params["resourceArn"])
    return ApiResponse({"tags": group.tags})


def tag_log_group(req: ApiRequest) -> ApiResponse:
    params = _params(req, "TagLogGroup")
    group = selectors.log_group_get_for_account(req.account, params["logGroupName"])
    services.log_group_tags_add(group, params["tags"], too_many=errors.InvalidParameter)
    return ApiResponse()


def untag_log_group(req: ApiRequest) -> ApiResponse:
    params = _params(req, "UntagLogGroup")
    group = selectors.log_group_get_for_account(req.account, params["logGroupName"])
    services.log_group_tags_remove(group, params["tags"])
    return ApiResponse()


def list_tags_log_group(req: ApiRequest) -> ApiResponse:
    params = _params(req, "ListTagsLogGroup")
    group = selectors.log_group_get_for_account(req.account, params["logGroupName"])
    return ApiResponse({"tags": group.tags})


def start_query(req: ApiRequest) -> ApiResponse:
    params = _params(req, "StartQuery")
    query = query_services.query_start(req.account, params)
    return ApiResponse({"queryId": query.query_id})


def get_query_results(req: ApiRequest) -> ApiResponse:
    params = _params(req, "GetQueryResults")
    return ApiResponse(query_selectors.log_query_results(req.account, params["queryId"]))


def stop_query(req: ApiRequest) -> ApiResponse:
    params = _params(req, "StopQuery")
    return ApiResponse({"success": query_services.query_stop(req.account, params["queryId"])})


def describe_queries(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeQueries")
    queries = query_selectors.log_queries_list(
        req.account,
        group_name=params.get("logGroupName"),
        status=params.get("status"),
        limit=params.get("maxResults") or 1000,
    )
    return ApiResponse({"queries": queries})


dispatch = json_rpc_api(
    "logs",
    TARGET_PREFIX,
    {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": describe_log_streams,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
        "CreateLogGroup": create_log_group,
        "DeleteLogGroup": delete_log_group,
        "PutRetentionPolicy": put_retention_policy,
        "DeleteRetentionPolicy": delete_retention_policy,
        "CreateLogStream": create_log_stream,
        "PutLogEvents": put_log_events,
        "DeleteLogStream": delete_log_stream,
        "PutMetricFilter": put_metric_filter,
        "DescribeMetricFilters": describe_metric_filters,
        "DeleteMetricFilter": delete_metric_filter,
        "TestMetricFilter": test_metric_filter,
        "PutSubscriptionFilter": put_subscription_filter,
        "DescribeSubscriptionFilters": describe_subscription_filters,
        "DeleteSubscriptionFilter": delete_subscription_filter,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
        "TagLogGroup": tag_log_group,
        "UntagLogGroup": untag_log_group,
        "ListTagsLogGroup": list_tags_log_group,
        "StartQuery": start_query,
        "GetQueryResults": get_query_results,
        "StopQuery": stop_query,
        "DescribeQueries": describe_queries,
    },
    max_body=MAX_BODY_BYTES,
)
