"""The EventBridge API subset (JSON 1.1, ``X-Amz-Target: AWSEvents.<Op>``, SigV4 service
``events``) on the default event bus: rules, Lambda targets, PutEvents.

Thin views: they validate the input against the botocore ``events`` model, call a
selector or service of :mod:`triggers.rules`, and render the model's output shapes.
"""

from __future__ import annotations

from typing import Any

from awsapi.apiview import ApiResponse
from awsapi.errors import AWSError, InvalidRequestContent
from awsapi.validation import validate
from iam.authentication import ApiRequest, json_rpc_api
from triggers.models import Rule, Target
from triggers.rules import events, selectors, services

TARGET_PREFIX = "AWSEvents"


def _params(req: ApiRequest, operation: str) -> dict[str, Any]:
    """The request's members, checked against the model (ValidationException); malformed
    JSON is a SerializationException, as EventBridge answers."""
    try:
        params = req.json()
    except InvalidRequestContent as error:
        raise AWSError(error.message, code="SerializationException", status=400) from None
    validate("events", operation, params)
    return params


def _render_rule(rule: Rule) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": rule.name, "Arn": selectors.rule_arn(rule)}
    if rule.event_pattern:
        body["EventPattern"] = rule.event_pattern
    body["State"] = rule.state
    if rule.description:
        body["Description"] = rule.description
    if rule.schedule_expression:
        body["ScheduleExpression"] = rule.schedule_expression
    if rule.role_arn:
        body["RoleArn"] = rule.role_arn
    body["EventBusName"] = rule.event_bus_name
    return body


def _render_target(target: Target) -> dict[str, Any]:
    body = dict(target.spec)
    body["Id"] = target.target_id
    body["Arn"] = target.arn
    return body


def put_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutRule")
    selectors.bus_name(req.account, params.get("EventBusName"))
    rule = services.rule_put(
        req.account,
        services.RuleInput(
            name=params["Name"],
            schedule_expression=params.get("ScheduleExpression") or "",
            event_pattern=params.get("EventPattern") or "",
            state=params.get("State") or Rule.ENABLED,
            description=params.get("Description") or "",
            role_arn=params.get("RoleArn") or "",
        ),
    )
    return ApiResponse({"RuleArn": selectors.rule_arn(rule)})


def describe_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DescribeRule")
    rule = selectors.rule_get_for_account(req.account, params["Name"], params.get("EventBusName"))
    body = _render_rule(rule)
    body["CreatedBy"] = rule.account_id
    return ApiResponse(body)


def list_rules(req: ApiRequest) -> ApiResponse:
    params = _params(req, "ListRules")
    selectors.bus_name(req.account, params.get("EventBusName"))
    rules, token = selectors.rules_list(
        req.account,
        prefix=params.get("NamePrefix"),
        limit=params.get("Limit"),
        token=params.get("NextToken"),
    )
    body: dict[str, Any] = {"Rules": [_render_rule(rule) for rule in rules]}
    if token:
        body["NextToken"] = token
    return ApiResponse(body)


def enable_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "EnableRule")
    services.rule_set_state(req.account, params["Name"], params.get("EventBusName"), Rule.ENABLED)
    return ApiResponse()


def disable_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DisableRule")
    services.rule_set_state(req.account, params["Name"], params.get("EventBusName"), Rule.DISABLED)
    return ApiResponse()


def delete_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "DeleteRule")
    services.rule_delete(req.account, params["Name"], params.get("EventBusName"))
    return ApiResponse()


def _failed(entries: list[dict[str, str]]) -> dict[str, Any]:
    return {"FailedEntryCount": len(entries), "FailedEntries": entries}


def put_targets(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutTargets")
    failed = services.targets_put(
        req.account, params["Rule"], params.get("EventBusName"), params["Targets"]
    )
    return ApiResponse(_failed(failed))


def remove_targets(req: ApiRequest) -> ApiResponse:
    params = _params(req, "RemoveTargets")
    failed = services.targets_remove(
        req.account, params["Rule"], params.get("EventBusName"), params["Ids"]
    )
    return ApiResponse(_failed(failed))


def list_targets_by_rule(req: ApiRequest) -> ApiResponse:
    params = _params(req, "ListTargetsByRule")
    rule = selectors.rule_get_for_account(req.account, params["Rule"], params.get("EventBusName"))
    targets, token = selectors.targets_list(
        rule, limit=params.get("Limit"), token=params.get("NextToken")
    )
    body: dict[str, Any] = {"Targets": [_render_target(target) for target in targets]}
    if token:
        body["NextToken"] = token
    return ApiResponse(body)


def put_events(req: ApiRequest) -> ApiResponse:
    params = _params(req, "PutEvents")
    results = events.events_put(req.account, params["Entries"])
    failed = sum(1 for entry in results if "ErrorCode" in entry)
    return ApiResponse({"FailedEntryCount": failed, "Entries": results})


def test_event_pattern(req: ApiRequest) -> ApiResponse:
    params = _params(req, "TestEventPattern")
    return ApiResponse({"Result": events.pattern_test(params["EventPattern"], params["Event"])})


dispatch = json_rpc_api(
    "events",
    TARGET_PREFIX,
    {
        "PutRule": put_rule,
        "DescribeRule": describe_rule,
        "ListRules": list_rules,
        "EnableRule": enable_rule,
        "DisableRule": disable_rule,
        "DeleteRule": delete_rule,
        "PutTargets": put_targets,
        "RemoveTargets": remove_targets,
        "ListTargetsByRule": list_targets_by_rule,
        "PutEvents": put_events,
        "TestEventPattern": test_event_pattern,
    },
)
