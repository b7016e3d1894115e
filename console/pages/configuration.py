"""Console: the configuration tab (general settings, environment, tags, policy,
concurrency, layers, asynchronous invocation) and the JSON endpoints its script calls. Each
endpoint validates as the matching API operation does and calls the same service."""

from __future__ import annotations

import json
from typing import Any

from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from console.consoleapi import console_json, request_json
from console.pages._forms import account_of, checked, fields, function_for
from console.pages._request import ConsoleRequest
from functions import arns, render, selectors
from functions.models import Function, FunctionVersion, LayerVersion
from functions.services import concurrency as concurrency_services
from functions.services import event_invoke as event_invoke_services
from functions.services import functions as function_services
from functions.services import policies as policy_services
from functions.services import tags as tag_services

ENVIRONMENT_LIMIT = function_services.ENVIRONMENT_LIMIT
_ENV_TEXTS = {"4KB": "environment.variables", "reserved keys": "environment.variables"}


def _update(request: ConsoleRequest, function: Function, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration with ``params``, as the API runs it."""
    params = checked("UpdateFunctionConfiguration", params, FunctionName=function.name)
    resolved = selectors.function_resolve(account_of(request), function.name)
    version = function_services.function_update_configuration(resolved=resolved, params=params)
    return render.function_configuration(version)


@console_json
@require_POST
def general(request: ConsoleRequest, name: str) -> dict[str, Any]:
    function = function_for(request, name)
    data = request_json(request)
    params: dict[str, Any] = {
        key: data[key] for key in ("Description", "MemorySize", "Timeout") if key in data
    }
    if "EphemeralStorage" in data:
        params["EphemeralStorage"] = {"Size": data["EphemeralStorage"]}
    with fields("general"):
        return _update(request, function, params)


@console_json
@require_POST
def environment(request: ConsoleRequest, name: str) -> dict[str, Any]:
    function = function_for(request, name)
    variables = request_json(request).get("Variables") or {}
    with fields("environment.variables", _ENV_TEXTS):
        return _update(request, function, {"Environment": {"Variables": variables}})


@console_json
@require_POST
def tags(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """Replace the function's tags: TagResource for the new set, UntagResource for the rest."""
    function = function_for(request, name)
    wanted = request_json(request).get("Tags") or {}
    resource = arns.function_arn(function.account_id, function.name)
    with fields("tags"):
        if wanted:
            wanted = checked("TagResource", {"Tags": wanted}, Resource=resource)["Tags"]
        return {"Tags": tag_services.tags_replace(function=function, tags=wanted)}


def _policy(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    resolved = selectors.function_resolve(account_of(request), function.name, follow_alias=False)
    return render.policy_document(selectors.policy_statements(resolved))


_PRINCIPAL_TEXTS = {"principal": "principal", "statement id": "statementId"}


@console_json
@require_POST
def policy_add(request: ConsoleRequest, name: str) -> dict[str, Any]:
    function = function_for(request, name)
    data = request_json(request)
    keys = ("StatementId", "Action", "Principal", "SourceArn", "SourceAccount")
    with fields("policy", _PRINCIPAL_TEXTS):
        params = checked(
            "AddPermission",
            {key: data[key] for key in keys if data.get(key)},
            FunctionName=function.name,
        )
        resolved = selectors.function_resolve(
            account_of(request), function.name, follow_alias=False
        )
        policy_services.permission_add(resolved=resolved, params=params)
    return {"Policy": _policy(request, function)}


@console_json
@require_http_methods(["DELETE"])
def policy_remove(request: ConsoleRequest, name: str, sid: str) -> dict[str, Any]:
    function = function_for(request, name)
    with fields("policy"):
        checked("RemovePermission", {}, FunctionName=function.name, StatementId=sid)
        resolved = selectors.function_resolve(
            account_of(request), function.name, follow_alias=False
        )
        policy_services.permission_remove(resolved=resolved, sid=sid, revision_id=None)
    return {"Policy": _policy(request, function)}


@console_json
@require_POST
def concurrency(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """Reserve concurrency, or (``null``) go back to the account's unreserved pool."""
    function = function_for(request, name)
    reserved = request_json(request).get("ReservedConcurrentExecutions")
    with fields("reservedConcurrentExecutions"):
        if reserved is None:
            checked("DeleteFunctionConcurrency", {}, FunctionName=function.name)
            concurrency_services.concurrency_delete(function=function)
        else:
            params = checked(
                "PutFunctionConcurrency",
                {"ReservedConcurrentExecutions": reserved},
                FunctionName=function.name,
            )
            concurrency_services.concurrency_put(
                function=function, reserved=int(params["ReservedConcurrentExecutions"])
            )
    return {
        "ReservedConcurrentExecutions": reserved,
        "UnreservedConcurrentExecutions": selectors.unreserved_concurrency(function.account),
    }


@console_json
@require_POST
def layers(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """Set the function's layers, in order (UpdateFunctionConfiguration ``Layers``)."""
    function = function_for(request, name)
    wanted = request_json(request).get("Layers") or []
    with fields("layers"):
        return _update(request, function, {"Layers": wanted})


_DEAD_LETTER = "deadLetterConfig.targetArn"


@console_json
@require_POST
def async_settings(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """PutFunctionEventInvokeConfig for $LATEST (the form holds every setting), and the
    dead-letter queue through UpdateFunctionConfiguration when it changed."""
    function = function_for(request, name)
    data = request_json(request)
    on_success = str(data.get("OnSuccess") or "").strip()
    on_failure = str(data.get("OnFailure") or "").strip()
    dead_letter = str(data.get("DeadLetterTargetArn") or "").strip()
    with fields(_DEAD_LETTER):
        function_services.check_dead_letter_target(dead_letter)
    with fields("async"):
        params = checked(
            "PutFunctionEventInvokeConfig",
            {
                "MaximumEventAgeInSeconds": data.get("MaximumEventAgeInSeconds"),
                "MaximumRetryAttempts": data.get("MaximumRetryAttempts"),
                "DestinationConfig": {
                    "OnSuccess": {"Destination": on_success},
                    "OnFailure": {"Destination": on_failure},
                },
            },
            FunctionName=function.name,
        )
        checked(
            "UpdateFunctionConfiguration",
            {"DeadLetterConfig": {"TargetArn": dead_letter}},
            FunctionName=function.name,
        )
        resolved = selectors.event_invoke_resolve(
            account_of(request), function.name, FunctionVersion.LATEST, reading=False
        )
        event_invoke_services.event_invoke_settings_put(
            resolved=resolved, params=params, dead_letter_target_arn=dead_letter
        )
    return selectors.event_invoke_settings_latest(function)


def _layer_choices(function: Function) -> list[dict[str, Any]]:
    """The account's own layer versions, offered for adding."""
    versions = (
        LayerVersion.objects.filter(layer__account_id=function.account_id)
        .select_related("layer")
        .order_by("layer__name", "-number")[:200]
    )
    return [
        {
            "arn": arns.layer_version_arn(v.layer.account_id, v.layer.name, v.number),
            "label": f"{v.layer.name} : {v.number}",
            "runtimes": list(v.compatible_runtimes),
        }
        for v in versions
    ]


base = "functions/<str:name>/configuration/"
urlpatterns: list[Any] = [
    path(base + "general", general, name="configuration-general"),
    path(base + "environment", environment, name="configuration-environment"),
    path(base + "tags", tags, name="configuration-tags"),
    path(base + "policy", policy_add, name="configuration-policy-add"),
    path(base + "policy/<str:sid>", policy_remove, name="configuration-policy-remove"),
    path(base + "concurrency", concurrency, name="configuration-concurrency"),
    path(base + "layers", layers, name="configuration-layers"),
    path(base + "async", async_settings, name="configuration-async"),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for the configuration tab."""
    latest = selectors.latest_version(function)
    statements = [
        row.statement for row in function.statements.filter(qualifier="").order_by("created")
    ]
    state = {
        "function": function.name,
        "environment": dict(latest.environment),
        "environmentLimit": ENVIRONMENT_LIMIT,
        "tags": dict(function.tags),
        "policy": render.policy_document(statements),
        "layers": [
            {"arn": layer.arn, "codeSize": layer.code_size}
            for layer in latest.layers.order_by("position")
        ],
        "layerChoices": _layer_choices(function),
        "reserved": function.reserved_concurrency,
        "unreserved": selectors.unreserved_concurrency(function.account),
        "async": selectors.event_invoke_settings_latest(function),
    }
    return {
        "configuration": {
            "latest": latest,
            "state": state,
            "policy_json": json.dumps(state["policy"], indent=2),
        }
    }
