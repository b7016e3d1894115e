"""Every API operation the platform serves → the IAM action(s) it needs, the resource ARN(s)
it acts on, and the condition keys the request supplies — as AWS's Service Authorization
Reference lists them for Lambda, CloudWatch Logs, CloudWatch, EventBridge and STS.

Pure data and functions (no Django): the policy evaluator (``iam.policy``) decides; the API
layer calls :func:`authorizations` with the operation's parameters, keyed by the botocore
input shape's member names (``FunctionName``, ``Qualifier``, ``logGroupName``, ...) as the
views already read them (URI members included).

Where a condition key's value lives in the stored resource rather than the request (a
mapping's function for ``GetEventSourceMapping``, a removed statement's principal, a
resource's tags) the entry lists it in ``resource_keys``: the caller fills those in from the
resource it fetched. ``aws:ResourceTag/${TagKey}`` is listed for every resource type AWS
defines it on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iam.authorization import arns
from iam.authorization.arns import Scope, UnparsableResource

# One value, or several for the multi-valued keys (aws:TagKeys, lambda:Layer, ...): the
# evaluator's ForAnyValue:/ForAllValues: operators see the tuple.
ConditionValue = str | tuple[str, ...]
Params = Mapping[str, Any]

RESOURCE_TAG = "aws:ResourceTag/${TagKey}"
ALL_RESOURCES = "*"
# Bounds on what one request may put in its context: AWS caps tags at 50 per resource and
# PutTargets at 10 targets, PutEvents at 10 entries; the APIs refuse more, so the context
# never needs more (and a hostile request cannot make it large).
_MAX_VALUES = 200


class UnknownOperation(KeyError):
    """No entry for this operation: a new operation must be added to the table."""


@dataclass(frozen=True)
class Authorization:
    """One action on one or more resources, with the request's condition keys."""

    action: str
    resources: tuple[str, ...]
    conditions: Mapping[str, ConditionValue] = field(default_factory=dict)
    # Condition keys whose values come from the stored resource (fill in before evaluating).
    resource_keys: tuple[str, ...] = ()
    # True for an action AWS also requires to complete the operation (iam:PassRole for
    # CreateFunction's Role, lambda:TagResource for tags given on create,
    # lambda:GetLayerVersion on each layer a function is given).
    dependent: bool = False
    # Required only when the resource has tags (lambda:ListTags for GetFunction of a
    # tagged function): the caller checks it after fetching the resource.
    only_if_tagged: bool = False


Rule = Callable[[Params, Scope], tuple[Authorization, ...]]

# (service as the SigV4 scope names it, operation) -> rule. Services: lambda, logs,
# monitoring (CloudWatch, IAM prefix "cloudwatch"), events, sts, xray.
_RULES: dict[tuple[str, str], Rule] = {}


def authorizations(
    service: str, operation: str, params: Params, scope: Scope
) -> tuple[Authorization, ...]:
    """What ``operation`` of ``service`` needs allowed, first the operation's own action.

    Raises :class:`UnknownOperation` for an operation with no entry and
    :class:`UnparsableResource` when the request names no resource an ARN can be made of
    (answer it as the operation would — a validation error or not-found — and do not run
    it). An empty tuple means AWS checks no permission (STS GetCallerIdentity).
    """
    rule = _RULES.get((service, operation))
    if rule is None:
        raise UnknownOperation(f"{service}:{operation}")
    return rule(params, scope)


def operations(service: str) -> frozenset[str]:
    """The operations of ``service`` the table knows."""
    return frozenset(op for svc, op in _RULES if svc == service)


def services() -> frozenset[str]:
    return frozenset(svc for svc, _ in _RULES)


# ---- helpers -------------------------------------------------------------------------


def _strings(values: Iterable[Any], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise UnparsableResource(f"{what} holds a value that is not a string")
        out.append(value)
        if len(out) > _MAX_VALUES:
            raise UnparsableResource(f"{what} holds too many values")
    return tuple(out)


def _string(params: Params, key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) and value else None


def _tag_map_conditions(tags: Any) -> dict[str, ConditionValue]:
    """aws:RequestTag/<key> per tag and aws:TagKeys, from a {key: value} map (Lambda, Logs)."""
    if not tags:
        return {}
    if not isinstance(tags, Mapping):
        raise UnparsableResource("Tags is not a map")
    keys = _strings(tags.keys(), "Tags")
    values = _strings(tags.values(), "Tags")
    conditions: dict[str, ConditionValue] = {
        f"aws:RequestTag/{key}": value for key, value in zip(keys, values, strict=True)
    }
    conditions["aws:TagKeys"] = keys
    return conditions


def _tag_list_conditions(tags: Any) -> dict[str, ConditionValue]:
    """The same from a [{Key, Value}] list (EventBridge, STS)."""
    if not tags:
        return {}
    if not isinstance(tags, list) or not all(isinstance(tag, Mapping) for tag in tags):
        raise UnparsableResource("Tags is not a list of Key/Value pairs")
    keys = _strings((tag.get("Key") for tag in tags), "Tags")
    values = _strings((tag.get("Value", "") for tag in tags), "Tags")
    conditions: dict[str, ConditionValue] = {
        f"aws:RequestTag/{key}": value for key, value in zip(keys, values, strict=True)
    }
    conditions["aws:TagKeys"] = keys
    return conditions


def _tag_keys_condition(keys: Any) -> dict[str, ConditionValue]:
    if not keys:
        return {}
    if not isinstance(keys, list):
        raise UnparsableResource("TagKeys is not a list")
    return {"aws:TagKeys": _strings(keys, "TagKeys")}


def _register(service: str, *names: str) -> Callable[[Rule], Rule]:
    def decorator(rule: Rule) -> Rule:
        for name in names:
            _RULES[(service, name)] = rule
        return rule

    return decorator


def _constant(service: str, operation: str, action: str, resource: str = ALL_RESOURCES) -> None:
    """An operation on no resource type: the policy must say ``*``."""

    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        return (Authorization(action, (resource,)),)

    _RULES[(service, operation)] = rule


# ---- AWS Lambda ------------------------------------------------------------------------
# Function resources: the function ARN, or the version/alias ARN when the request names a
# qualifier (in FunctionName or Qualifier) on an operation that takes one — a policy on
# "function:f" does not cover "function:f:prod", AWS's documented behaviour. Operations on
# the function as a whole (code, configuration, concurrency, aliases, versions) act on the
# unqualified ARN.

_LAMBDA_QUALIFIED = {
    # operation: IAM action
    "Invoke": "lambda:InvokeFunction",
    # Response streaming is authorized as InvokeFunction (no action of its own).
    "InvokeWithResponseStream": "lambda:InvokeFunction",
    "InvokeAsync": "lambda:InvokeAsync",
    "GetFunctionConfiguration": "lambda:GetFunctionConfiguration",
    "DeleteFunction": "lambda:DeleteFunction",
    "GetPolicy": "lambda:GetPolicy",
    "PutFunctionEventInvokeConfig": "lambda:PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig": "lambda:UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig": "lambda:GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig": "lambda:DeleteFunctionEventInvokeConfig",
    "PutProvisionedConcurrencyConfig": "lambda:PutProvisionedConcurrencyConfig",
    "GetProvisionedConcurrencyConfig": "lambda:GetProvisionedConcurrencyConfig",
    "DeleteProvisionedConcurrencyConfig": "lambda:DeleteProvisionedConcurrencyConfig",
}
_LAMBDA_UNQUALIFIED = {
    "UpdateFunctionCode": "lambda:UpdateFunctionCode",
    "PublishVersion": "lambda:PublishVersion",
    "ListVersionsByFunction": "lambda:ListVersionsByFunction",
    "CreateAlias": "lambda:CreateAlias",
    "GetAlias": "lambda:GetAlias",
    "UpdateAlias": "lambda:UpdateAlias",
    "DeleteAlias": "lambda:DeleteAlias",
    "ListAliases": "lambda:ListAliases",
    "PutFunctionConcurrency": "lambda:PutFunctionConcurrency",
    "DeleteFunctionConcurrency": "lambda:DeleteFunctionConcurrency",
    "GetFunctionConcurrency": "lambda:GetFunctionConcurrency",
    "ListFunctionEventInvokeConfigs": "lambda:ListFunctionEventInvokeConfigs",
    "ListProvisionedConcurrencyConfigs": "lambda:ListProvisionedConcurrencyConfigs",
}


def _function_rule(action: str, *, qualified: bool) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
        arn = target.arn if qualified else target.unqualified_arn
        return (Authorization(action, (arn,), resource_keys=(RESOURCE_TAG,)),)

    return rule


for _operation, _action in _LAMBDA_QUALIFIED.items():
    _RULES[("lambda", _operation)] = _function_rule(_action, qualified=True)
for _operation, _action in _LAMBDA_UNQUALIFIED.items():
    _RULES[("lambda", _operation)] = _function_rule(_action, qualified=False)


@_register("lambda", "GetFunction")
def _get_function(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """GetFunction of a tagged function also needs lambda:ListTags (on the function: tags
    belong to it, not to versions or aliases)."""
    target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
    return (
        Authorization("lambda:GetFunction", (target.arn,), resource_keys=(RESOURCE_TAG,)),
        Authorization(
            "lambda:ListTags",
            (target.unqualified_arn,),
            resource_keys=(RESOURCE_TAG,),
            dependent=True,
            only_if_tagged=True,
        ),
    )


_constant("lambda", "ListFunctions", "lambda:ListFunctions")
_constant("lambda", "GetAccountSettings", "lambda:GetAccountSettings")
_constant("lambda", "ListEventSourceMappings", "lambda:ListEventSourceMappings")
_constant("lambda", "ListLayers", "lambda:ListLayers")
_constant("lambda", "ListLayerVersions", "lambda:ListLayerVersions")


def _function_settings_conditions(params: Params) -> dict[str, ConditionValue]:
    """lambda:Layer, lambda:SubnetIds, lambda:SecurityGroupIds, lambda:CodeSigningConfigArn
    from a Create/UpdateFunctionConfiguration request (only the keys it supplies;
    lambda:VpcIds is derived from the subnets by AWS, not given in the request)."""
    conditions: dict[str, ConditionValue] = {}
    layers = params.get("Layers")
    if isinstance(layers, list):
        conditions["lambda:Layer"] = _strings(layers, "Layers")
    vpc = params.get("VpcConfig")
    if isinstance(vpc, Mapping):
        if isinstance(vpc.get("SubnetIds"), list):
            conditions["lambda:SubnetIds"] = _strings(vpc["SubnetIds"], "SubnetIds")
        if isinstance(vpc.get("SecurityGroupIds"), list):
            conditions["lambda:SecurityGroupIds"] = _strings(
                vpc["SecurityGroupIds"], "SecurityGroupIds"
            )
    signing = _string(params, "CodeSigningConfigArn")
    if signing is not None:
        conditions["lambda:CodeSigningConfigArn"] = signing
    return conditions


def _layer_use(params: Params) -> tuple[Authorization, ...]:
    """lambda:GetLayerVersion on every layer version the function is given (another
    account's layer is allowed by its layer version policy)."""
    layers = params.get("Layers")
    if not isinstance(layers, list):
        return ()
    return tuple(
        Authorization(
            "lambda:GetLayerVersion", (arns.layer_version_arn_parsed(layer),), dependent=True
        )
        for layer in dict.fromkeys(_strings(layers, "Layers"))
    )


def _pass_role(params: Params) -> tuple[Authorization, ...]:
    """iam:PassRole on the execution role, for the Lambda service (a dependent action)."""
    role = params.get("Role")
    if role is None:
        return ()
    return (
        Authorization(
            "iam:PassRole",
            (arns.role_arn(role),),
            {"iam:PassedToService": "lambda.amazonaws.com"},
            dependent=True,
        ),
    )


@_register("lambda", "CreateFunction")
def _create_function(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    target = arns.function_target(scope, params.get("FunctionName"))
    arn = target.unqualified_arn
    tags = _tag_map_conditions(params.get("Tags"))
    result = [
        Authorization("lambda:CreateFunction", (arn,), _function_settings_conditions(params) | tags)
    ]
    result.extend(_pass_role(params))
    result.extend(_layer_use(params))
    if tags:
        # Tag-on-create also needs lambda:TagResource (AWS's "Permissions required for
        # working with tags").
        result.append(Authorization("lambda:TagResource", (arn,), tags, dependent=True))
    return tuple(result)


@_register("lambda", "UpdateFunctionConfiguration")
def _update_function_configuration(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    target = arns.function_target(scope, params.get("FunctionName"))
    return (
        Authorization(
            "lambda:UpdateFunctionConfiguration",
            (target.unqualified_arn,),
            _function_settings_conditions(params),
            resource_keys=(RESOURCE_TAG,),
        ),
        *_pass_role(params),
        *_layer_use(params),
    )


@_register("lambda", "AddPermission")
def _add_permission(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
    conditions: dict[str, ConditionValue] = {}
    principal = _string(params, "Principal")
    if principal is not None:
        conditions["lambda:Principal"] = principal
    auth_type = _string(params, "FunctionUrlAuthType")
    if auth_type is not None:
        conditions["lambda:FunctionUrlAuthType"] = auth_type
    via_url = params.get("InvokedViaFunctionUrl")
    if isinstance(via_url, bool):
        conditions["lambda:InvokedViaFunctionUrl"] = "true" if via_url else "false"
    return (
        Authorization(
            "lambda:AddPermission", (target.arn,), conditions, resource_keys=(RESOURCE_TAG,)
        ),
    )


@_register("lambda", "RemovePermission")
def _remove_permission(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    # The request names only the statement: its principal and URL auth type are the
    # stored statement's.
    target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
    return (
        Authorization(
            "lambda:RemovePermission",
            (target.arn,),
            resource_keys=("lambda:Principal", "lambda:FunctionUrlAuthType", RESOURCE_TAG),
        ),
    )


def _url_config_rule(action: str, *, auth_type_in_request: bool) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
        conditions: dict[str, ConditionValue] = {"lambda:FunctionArn": target.arn}
        auth_type = _string(params, "AuthType") if auth_type_in_request else None
        resource_keys: tuple[str, ...] = (RESOURCE_TAG,)
        if auth_type is not None:
            conditions["lambda:FunctionUrlAuthType"] = auth_type
        else:
            resource_keys = ("lambda:FunctionUrlAuthType", RESOURCE_TAG)
        return (Authorization(action, (target.arn,), conditions, resource_keys),)

    return rule


_RULES[("lambda", "CreateFunctionUrlConfig")] = _url_config_rule(
    "lambda:CreateFunctionUrlConfig", auth_type_in_request=True
)
_RULES[("lambda", "UpdateFunctionUrlConfig")] = _url_config_rule(
    "lambda:UpdateFunctionUrlConfig", auth_type_in_request=True
)
_RULES[("lambda", "GetFunctionUrlConfig")] = _url_config_rule(
    "lambda:GetFunctionUrlConfig", auth_type_in_request=False
)
_RULES[("lambda", "DeleteFunctionUrlConfig")] = _url_config_rule(
    "lambda:DeleteFunctionUrlConfig", auth_type_in_request=False
)


@_register("lambda", "ListFunctionUrlConfigs")
def _list_function_url_configs(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    target = arns.function_target(scope, params.get("FunctionName"))
    return (
        Authorization(
            "lambda:ListFunctionUrlConfigs",
            (target.unqualified_arn,),
            resource_keys=("lambda:FunctionUrlAuthType", RESOURCE_TAG),
        ),
    )


@_register("lambda", "InvokeFunctionUrl")
def _invoke_function_url(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """Not an API operation: a request to a function URL (permission only), on the
    function or the alias the URL belongs to; ``AuthType`` is the URL's."""
    target = arns.function_target(scope, params.get("FunctionName"), params.get("Qualifier"))
    conditions: dict[str, ConditionValue] = {"lambda:FunctionArn": target.arn}
    auth_type = _string(params, "AuthType")
    if auth_type is not None:
        conditions["lambda:FunctionUrlAuthType"] = auth_type
    return (
        Authorization(
            "lambda:InvokeFunctionUrl", (target.arn,), conditions, resource_keys=(RESOURCE_TAG,)
        ),
    )


# Tags: the Resource parameter is a function ARN (or an event source mapping's); a tag
# belongs to the function, never to a version or alias.
def _tagged_resource(scope: Scope, resource: Any) -> str:
    if isinstance(resource, str) and ":event-source-mapping:" in resource:
        if not resource.startswith("arn:"):
            raise UnparsableResource(f"{resource!r} is not an ARN")
        return resource
    return arns.function_target(scope, resource).unqualified_arn


@_register("lambda", "TagResource")
def _tag_resource(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = _tagged_resource(scope, params.get("Resource"))
    return (
        Authorization(
            "lambda:TagResource",
            (arn,),
            _tag_map_conditions(params.get("Tags")),
            resource_keys=(RESOURCE_TAG,),
        ),
    )


@_register("lambda", "UntagResource")
def _untag_resource(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = _tagged_resource(scope, params.get("Resource"))
    return (
        Authorization(
            "lambda:UntagResource",
            (arn,),
            _tag_keys_condition(params.get("TagKeys")),
            resource_keys=(RESOURCE_TAG,),
        ),
    )


@_register("lambda", "ListTags")
def _list_tags(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = _tagged_resource(scope, params.get("Resource"))
    return (Authorization("lambda:ListTags", (arn,), resource_keys=(RESOURCE_TAG,)),)


# Event source mappings: Create acts on no resource ("*") and says which function by
# lambda:FunctionArn; the others act on the mapping's ARN, and lambda:FunctionArn is the
# mapping's function (from the request when Update names a new one).


@_register("lambda", "CreateEventSourceMapping")
def _create_event_source_mapping(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    target = arns.function_target(scope, params.get("FunctionName"))
    conditions: dict[str, ConditionValue] = {"lambda:FunctionArn": target.arn}
    conditions |= _tag_map_conditions(params.get("Tags"))
    return (Authorization("lambda:CreateEventSourceMapping", (ALL_RESOURCES,), conditions),)


def _mapping_rule(action: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        arn = arns.event_source_mapping_arn(scope, params.get("UUID"))
        function_name = params.get("FunctionName")
        if function_name is not None:
            target = arns.function_target(scope, function_name)
            return (
                Authorization(
                    action,
                    (arn,),
                    {"lambda:FunctionArn": target.arn},
                    resource_keys=(RESOURCE_TAG,),
                ),
            )
        return (Authorization(action, (arn,), resource_keys=("lambda:FunctionArn", RESOURCE_TAG)),)

    return rule


for _operation in ("GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"):
    _RULES[("lambda", _operation)] = _mapping_rule(f"lambda:{_operation}")


# Layers: use and permissions act on a layer version; publishing on the layer.


@_register("lambda", "PublishLayerVersion")
def _publish_layer_version(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    return (
        Authorization(
            "lambda:PublishLayerVersion", (arns.layer_arn(scope, params.get("LayerName")),)
        ),
    )


def _layer_version_rule(action: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        arn = arns.layer_version_arn(scope, params.get("LayerName"), params.get("VersionNumber"))
        return (Authorization(action, (arn,)),)

    return rule


for _operation in (
    "GetLayerVersion",
    "DeleteLayerVersion",
    "GetLayerVersionPolicy",
    "AddLayerVersionPermission",
    "RemoveLayerVersionPermission",
):
    _RULES[("lambda", _operation)] = _layer_version_rule(f"lambda:{_operation}")


@_register("lambda", "GetLayerVersionByArn")
def _get_layer_version_by_arn(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.layer_version_arn_parsed(params.get("Arn"))
    return (Authorization("lambda:GetLayerVersion", (arn,)),)


# ---- Amazon CloudWatch Logs --------------------------------------------------------------


def _group_param(params: Params) -> Any:
    """logGroupIdentifier (a name or ARN, newer operations) or logGroupName."""
    identifier = params.get("logGroupIdentifier")
    return identifier if identifier is not None else params.get("logGroupName")


def _log_group_rule(action: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        arn = arns.log_group_arn(scope, _group_param(params))
        return (Authorization(action, (arn,), resource_keys=(RESOURCE_TAG,)),)

    return rule


def _log_stream_rule(action: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        arn = arns.log_stream_arn(scope, _group_param(params), params.get("logStreamName"))
        return (Authorization(action, (arn,), resource_keys=(RESOURCE_TAG,)),)

    return rule


for _operation in (
    "DescribeLogStreams",
    "FilterLogEvents",
    "DeleteLogGroup",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "PutMetricFilter",
    "DeleteMetricFilter",
    "PutSubscriptionFilter",
    "DescribeSubscriptionFilters",
    "DeleteSubscriptionFilter",
    "ListTagsLogGroup",
):
    _RULES[("logs", _operation)] = _log_group_rule(f"logs:{_operation}")
for _operation in ("GetLogEvents", "CreateLogStream", "PutLogEvents", "DeleteLogStream"):
    _RULES[("logs", _operation)] = _log_stream_rule(f"logs:{_operation}")


@_register("logs", "StartLiveTail")
def _start_live_tail(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """StartLiveTail acts on every log group it names (``logGroupIdentifiers``)."""
    groups = params.get("logGroupIdentifiers")
    if not isinstance(groups, list) or not groups:
        raise UnparsableResource("logGroupIdentifiers names no log group")
    found = dict.fromkeys(arns.log_group_arn(scope, group) for group in groups[:_MAX_VALUES])
    return (Authorization("logs:StartLiveTail", tuple(found), resource_keys=(RESOURCE_TAG,)),)


@_register("logs", "StartQuery")
def _start_query(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """StartQuery acts on every log group it names (by name, names or identifiers)."""
    groups: list[Any] = []
    for key in ("logGroupName", "logGroupNames", "logGroupIdentifiers"):
        value = params.get(key)
        if isinstance(value, list):
            groups += value[:_MAX_VALUES]
        elif value is not None:
            groups.append(value)
    if not groups:
        raise UnparsableResource("StartQuery names no log group")
    found = dict.fromkeys(arns.log_group_arn(scope, group) for group in groups[:_MAX_VALUES])
    return (Authorization("logs:StartQuery", tuple(found), resource_keys=(RESOURCE_TAG,)),)


# The query operations name no resource: AWS authorizes them on "*".
_constant("logs", "GetQueryResults", "logs:GetQueryResults")
_constant("logs", "StopQuery", "logs:StopQuery")
_constant("logs", "DescribeQueries", "logs:DescribeQueries")


@_register("logs", "DescribeLogGroups")
def _describe_log_groups(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    return (Authorization("logs:DescribeLogGroups", (arns.any_log_group_arn(scope),)),)


@_register("logs", "CreateLogGroup")
def _create_log_group(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.log_group_arn(scope, params.get("logGroupName"))
    tags = _tag_map_conditions(params.get("tags"))
    result = [Authorization("logs:CreateLogGroup", (arn,), tags)]
    if tags:
        # Creating a group with tags also needs logs:TagResource ("... is not authorized
        # to perform CreateLogGroup with Tags. An additional permission
        # "logs:TagResource" is required.").
        result.append(Authorization("logs:TagResource", (arn,), tags, dependent=True))
    return tuple(result)


@_register("logs", "DescribeMetricFilters")
def _describe_metric_filters(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """On the group it names, or (no group: every group's filters) on no group."""
    if params.get("logGroupName") is None:
        return (Authorization("logs:DescribeMetricFilters", (arns.any_log_group_arn(scope),)),)
    return _log_group_rule("logs:DescribeMetricFilters")(params, scope)


# TestMetricFilter reads no resource.
_constant("logs", "TestMetricFilter", "logs:TestMetricFilter")


@_register("logs", "TagResource", "TagLogGroup")
def _logs_tag(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """The legacy TagLogGroup is authorized as logs:TagLogGroup, on the group it names."""
    legacy = params.get("resourceArn") is None
    arn = arns.log_group_arn(scope, params.get("logGroupName" if legacy else "resourceArn"))
    action = "logs:TagLogGroup" if legacy else "logs:TagResource"
    conditions = _tag_map_conditions(params.get("tags"))
    return (Authorization(action, (arn,), conditions, resource_keys=(RESOURCE_TAG,)),)


@_register("logs", "UntagResource", "UntagLogGroup")
def _logs_untag(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    legacy = params.get("resourceArn") is None
    arn = arns.log_group_arn(scope, params.get("logGroupName" if legacy else "resourceArn"))
    action = "logs:UntagLogGroup" if legacy else "logs:UntagResource"
    keys = params.get("tags" if legacy else "tagKeys")
    return (
        Authorization(action, (arn,), _tag_keys_condition(keys), resource_keys=(RESOURCE_TAG,)),
    )


@_register("logs", "ListTagsForResource")
def _logs_list_tags(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.log_group_arn(scope, params.get("resourceArn"))
    return (Authorization("logs:ListTagsForResource", (arn,), resource_keys=(RESOURCE_TAG,)),)


# ---- Amazon CloudWatch (signed as "monitoring", IAM prefix "cloudwatch") -----------------

_constant("monitoring", "GetMetricStatistics", "cloudwatch:GetMetricStatistics")
# Also what the console's charts are authorized as.
_constant("monitoring", "GetMetricData", "cloudwatch:GetMetricData")
_constant("monitoring", "ListMetrics", "cloudwatch:ListMetrics")


@_register("monitoring", "PutMetricData")
def _put_metric_data(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """No resource; ``cloudwatch:namespace`` is the namespace the data goes to (a policy
    may limit a role to its own). A request without one gets no key (and is refused by the
    operation itself)."""
    namespace = params.get("Namespace")
    conditions: dict[str, ConditionValue] = (
        {"cloudwatch:namespace": namespace} if isinstance(namespace, str) else {}
    )
    return (Authorization("cloudwatch:PutMetricData", (ALL_RESOURCES,), conditions),)


# ---- AWS X-Ray (no resource types: every action is on "*") ----------------------------------

_constant("xray", "GetTraceSummaries", "xray:GetTraceSummaries")
_constant("xray", "BatchGetTraces", "xray:BatchGetTraces")
_constant("xray", "PutTraceSegments", "xray:PutTraceSegments")

_constant("monitoring", "DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmsForMetric")


def _alarm_arn(scope: Scope, name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise UnparsableResource("AlarmName is not a name of 1 to 255 characters")
    return f"arn:{scope.partition}:cloudwatch:{scope.region}:{scope.account}:alarm:{name}"


def _alarm_names_rule(action: str) -> Rule:
    """An operation on the alarms ``AlarmNames`` lists (each one's ARN a resource)."""

    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        names = params.get("AlarmNames")
        if not isinstance(names, list) or not names:
            raise UnparsableResource("AlarmNames names no alarm")
        found = dict.fromkeys(_alarm_arn(scope, name) for name in names[:_MAX_VALUES])
        return (Authorization(action, tuple(found), resource_keys=(RESOURCE_TAG,)),)

    return rule


for _operation in ("DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"):
    _RULES[("monitoring", _operation)] = _alarm_names_rule(f"cloudwatch:{_operation}")


@_register("monitoring", "PutMetricAlarm")
def _put_metric_alarm(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """The alarm's ARN; tags given also need cloudwatch:TagResource, as on AWS."""
    arn = _alarm_arn(scope, params.get("AlarmName"))
    tags = _tag_list_conditions(params.get("Tags"))
    result = [Authorization("cloudwatch:PutMetricAlarm", (arn,), tags)]
    if tags:
        result.append(Authorization("cloudwatch:TagResource", (arn,), tags, dependent=True))
    return tuple(result)


@_register("monitoring", "SetAlarmState")
def _set_alarm_state(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = _alarm_arn(scope, params.get("AlarmName"))
    return (Authorization("cloudwatch:SetAlarmState", (arn,), resource_keys=(RESOURCE_TAG,)),)


@_register("monitoring", "DescribeAlarms")
def _describe_alarms(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """Every alarm of the account (``alarm:*``): the filters narrow the answer, not the ask."""
    arn = f"arn:{scope.partition}:cloudwatch:{scope.region}:{scope.account}:alarm:*"
    return (Authorization("cloudwatch:DescribeAlarms", (arn,)),)


@_register("monitoring", "DescribeAlarmHistory")
def _describe_alarm_history(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """The named alarm's ARN, else every alarm's (``alarm:*``)."""
    name = params.get("AlarmName")
    arn = (
        _alarm_arn(scope, name)
        if name is not None
        else f"arn:{scope.partition}:cloudwatch:{scope.region}:{scope.account}:alarm:*"
    )
    return (Authorization("cloudwatch:DescribeAlarmHistory", (arn,)),)


def _cloudwatch_resource(params: Params) -> str:
    arn = params.get("ResourceARN")
    if not isinstance(arn, str) or not 1 <= len(arn) <= 1024:
        raise UnparsableResource("ResourceARN is not an ARN of at most 1024 characters")
    return arn


@_register("monitoring", "TagResource")
def _cloudwatch_tag_resource(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    return (
        Authorization(
            "cloudwatch:TagResource",
            (_cloudwatch_resource(params),),
            _tag_list_conditions(params.get("Tags")),
            resource_keys=(RESOURCE_TAG,),
        ),
    )


@_register("monitoring", "UntagResource")
def _cloudwatch_untag_resource(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    return (
        Authorization(
            "cloudwatch:UntagResource",
            (_cloudwatch_resource(params),),
            _tag_keys_condition(params.get("TagKeys")),
            resource_keys=(RESOURCE_TAG,),
        ),
    )


@_register("monitoring", "ListTagsForResource")
def _cloudwatch_list_tags(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    return (
        Authorization(
            "cloudwatch:ListTagsForResource",
            (_cloudwatch_resource(params),),
            resource_keys=(RESOURCE_TAG,),
        ),
    )


# ---- Amazon EventBridge ----------------------------------------------------------------------


def _pattern_conditions(pattern: Any) -> dict[str, ConditionValue]:
    """events:source and events:detail-type from an event pattern that names them (the
    keys AWS derives from PutRule's EventPattern): the exact-match string values; content
    filters (prefix, anything-but, ...) supply none."""
    if pattern is None:
        return {}
    if not isinstance(pattern, str) or len(pattern) > 4096:
        # The API refuses it too (EventPattern is at most 4,096 characters).
        raise UnparsableResource("EventPattern is not a string of at most 4096 characters")
    try:
        document = json.loads(pattern)
    except (ValueError, RecursionError):
        return {}  # not a pattern: the API refuses it (InvalidEventPatternException)
    if not isinstance(document, dict):
        return {}
    conditions: dict[str, ConditionValue] = {}
    for field_name, key in (("source", "events:source"), ("detail-type", "events:detail-type")):
        values = document.get(field_name)
        if isinstance(values, list):
            exact = tuple(value for value in values if isinstance(value, str))
            if exact:
                conditions[key] = exact[:_MAX_VALUES]
    return conditions


def _rule_rule(action: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        name = params.get("Name", params.get("Rule"))
        arn = arns.rule_arn(scope, name, params.get("EventBusName"))
        return (
            Authorization(action, (arn,), resource_keys=("events:creatorAccount", RESOURCE_TAG)),
        )

    return rule


for _operation in (
    "DescribeRule",
    "EnableRule",
    "DisableRule",
    "DeleteRule",
    "RemoveTargets",
    "ListTargetsByRule",
):
    _RULES[("events", _operation)] = _rule_rule(f"events:{_operation}")


@_register("events", "PutRule")
def _put_rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.rule_arn(scope, params.get("Name"), params.get("EventBusName"))
    conditions = _pattern_conditions(params.get("EventPattern"))
    conditions |= _tag_list_conditions(params.get("Tags"))
    return (Authorization("events:PutRule", (arn,), conditions, resource_keys=(RESOURCE_TAG,)),)


@_register("events", "PutTargets")
def _put_targets(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.rule_arn(scope, params.get("Rule"), params.get("EventBusName"))
    targets = params.get("Targets")
    conditions: dict[str, ConditionValue] = {}
    if isinstance(targets, list) and targets:
        if not all(isinstance(target, Mapping) for target in targets):
            raise UnparsableResource("Targets is not a list of targets")
        conditions["events:TargetArn"] = _strings(
            (target.get("Arn") for target in targets), "Targets"
        )
    return (
        Authorization(
            "events:PutTargets",
            (arn,),
            conditions,
            resource_keys=("events:creatorAccount", RESOURCE_TAG),
        ),
    )


@_register("events", "PutEvents")
def _put_events(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    """PutEvents acts on every bus its entries name (the default bus when they name none),
    with the entries' sources and detail types as events:source / events:detail-type."""
    entries = params.get("Entries")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise UnparsableResource("Entries is not a list of entries")
    if len(entries) > _MAX_VALUES:
        raise UnparsableResource("Entries holds too many entries")
    buses: dict[str, None] = {}
    sources: dict[str, None] = {}
    detail_types: dict[str, None] = {}
    for entry in entries:
        buses[arns.event_bus(scope, entry.get("EventBusName")).arn] = None
        if isinstance(entry.get("Source"), str):
            sources[entry["Source"]] = None
        if isinstance(entry.get("DetailType"), str):
            detail_types[entry["DetailType"]] = None
    if not buses:
        buses[arns.event_bus(scope, None).arn] = None
    conditions: dict[str, ConditionValue] = {}
    if sources:
        conditions["events:source"] = tuple(sources)
    if detail_types:
        conditions["events:detail-type"] = tuple(detail_types)
    return (
        Authorization("events:PutEvents", tuple(buses), conditions, resource_keys=(RESOURCE_TAG,)),
    )


_constant("events", "ListRules", "events:ListRules")
_constant("events", "TestEventPattern", "events:TestEventPattern")


# ---- AWS Security Token Service ------------------------------------------------------------


@_register("sts", "GetCallerIdentity")
def _get_caller_identity(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    # "No permissions are required to perform this operation": even an explicit deny
    # does not stop it.
    return ()


_constant("sts", "GetSessionToken", "sts:GetSessionToken")


@_register("sts", "AssumeRole")
def _assume_role(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.role_arn(params.get("RoleArn"))
    conditions: dict[str, ConditionValue] = {}
    session_name = _string(params, "RoleSessionName")
    if session_name is not None:
        conditions["sts:RoleSessionName"] = session_name
    external_id = _string(params, "ExternalId")
    if external_id is not None:
        conditions["sts:ExternalId"] = external_id
    source_identity = _string(params, "SourceIdentity")
    if source_identity is not None:
        conditions["sts:SourceIdentity"] = source_identity
    tags = _tag_list_conditions(params.get("Tags"))
    result = [Authorization("sts:AssumeRole", (arn,), conditions | tags)]
    if tags:
        # Session tags also need sts:TagSession on the role.
        result.append(Authorization("sts:TagSession", (arn,), tags, dependent=True))
    if source_identity is not None:
        result.append(
            Authorization(
                "sts:SetSourceIdentity",
                (arn,),
                {"sts:SourceIdentity": source_identity},
                dependent=True,
            )
        )
    return tuple(result)


# ---- AWS Identity and Access Management ------------------------------------------------------
# Users, groups and roles are authorized on their ARN built from the name the request gives
# (IAM's ARNs also carry the entity's path, which only the stored entity knows; the caller
# may refine the resource after fetching it). An operation on the caller itself (GetUser or
# ListAccessKeys without UserName) and the account-wide lists act on "*".

_IAM_USER_OPERATIONS = [
    "CreateUser",
    "GetUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "ListGroupsForUser",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
]
_IAM_GROUP_OPERATIONS = [
    "CreateGroup",
    "GetGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "ListGroupPolicies",
    "DeleteGroupPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
]
_IAM_ROLE_OPERATIONS = [
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
]
_IAM_POLICY_OPERATIONS = [
    "GetPolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "ListEntitiesForPolicy",
]
_IAM_LISTS = (
    "ListUsers",
    "ListGroups",
    "ListRoles",
    "ListPolicies",
    "GetAccountAuthorizationDetails",
)
_IAM_KINDS = {"UserName": "user", "GroupName": "group", "RoleName": "role"}


def _iam_arn(scope: Scope, kind: str, name: str | None, path: str | None = None) -> str:
    if name is None:
        return ALL_RESOURCES
    if "/" in name or ":" in name or len(name) > 128:
        raise UnparsableResource(f"{name!r} is not an IAM name")
    prefix = path if isinstance(path, str) and path.startswith("/") else "/"
    return f"arn:{scope.partition}:iam::{scope.account}:{kind}{prefix}{name}"


def _iam_conditions(operation: str, params: Params) -> dict[str, ConditionValue]:
    conditions: dict[str, ConditionValue] = {}
    if operation.startswith(("Attach", "Detach")):
        policy_arn = _string(params, "PolicyArn")
        if policy_arn is not None:
            conditions["iam:PolicyARN"] = policy_arn
    if operation.startswith(("Create", "Tag")):
        conditions |= _tag_list_conditions(params.get("Tags"))
    if operation.startswith("Untag"):
        conditions |= _tag_keys_condition(params.get("TagKeys"))
    return conditions


def _iam_entity_rule(operation: str, member: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        path = params.get("Path") if operation.startswith("Create") else None
        arn = _iam_arn(scope, _IAM_KINDS[member], _string(params, member), path)
        return (Authorization(f"iam:{operation}", (arn,), _iam_conditions(operation, params)),)

    return rule


for _operation in _IAM_USER_OPERATIONS:
    _RULES[("iam", _operation)] = _iam_entity_rule(_operation, "UserName")
for _operation in _IAM_GROUP_OPERATIONS:
    _RULES[("iam", _operation)] = _iam_entity_rule(_operation, "GroupName")
for _operation in _IAM_ROLE_OPERATIONS:
    _RULES[("iam", _operation)] = _iam_entity_rule(_operation, "RoleName")
for _operation in _IAM_LISTS:
    _constant("iam", _operation, f"iam:{_operation}")


def _iam_policy_rule(operation: str) -> Rule:
    def rule(params: Params, scope: Scope) -> tuple[Authorization, ...]:
        arn = arns.bounded_name(params.get("PolicyArn"), "PolicyArn")
        if not arn.startswith("arn:"):
            raise UnparsableResource(f"{arn!r} is not a policy ARN")
        return (Authorization(f"iam:{operation}", (arn,)),)

    return rule


for _operation in _IAM_POLICY_OPERATIONS:
    _RULES[("iam", _operation)] = _iam_policy_rule(_operation)


@_register("iam", "CreatePolicy")
def _create_policy(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    name = _string(params, "PolicyName")
    if name is None:
        raise UnparsableResource("PolicyName is missing")
    arn = _iam_arn(scope, "policy", name, params.get("Path"))
    return (Authorization("iam:CreatePolicy", (arn,), _iam_conditions("CreatePolicy", params)),)


@_register("iam", "SimulatePrincipalPolicy")
def _simulate(params: Params, scope: Scope) -> tuple[Authorization, ...]:
    arn = arns.bounded_name(params.get("PolicySourceArn"), "PolicySourceArn")
    return (Authorization("iam:SimulatePrincipalPolicy", (arn,)),)
