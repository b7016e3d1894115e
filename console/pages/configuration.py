"""Console: the configuration tab (general settings, environment, tags, policy,
concurrency, layers, asynchronous invocation) and the JSON endpoints its script calls. Each
endpoint validates as the matching API operation does and calls the same service.

The serializers only read the form's JSON (its keys and their types); the values are checked
by the operation's botocore model (``checked``) and the services, so the console and the API
refuse them in the same words. ``error_fields`` maps a serializer key to the form control
that shows its error (``data-error-for`` in the template)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._forms import checked, fields
from console.pages._forms import text_field as _text
from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import arns, logging_config, render, selectors
from functions.models import Function, FunctionVersion, LayerVersion
from functions.services import concurrency as concurrency_services
from functions.services import event_invoke as event_invoke_services
from functions.services import functions as function_services
from functions.services import policies as policy_services
from functions.services import tags as tag_services
from iam import sts
from iam.models import Account
from platformapi.views import SignedInRequest

ENVIRONMENT_LIMIT = function_services.ENVIRONMENT_LIMIT
_ENV_TEXTS = {"4KB": "environment.variables", "reserved keys": "environment.variables"}

FUNCTION_CONFIGURATION = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="$LATEST's configuration, as GetFunctionConfiguration returns it.",
)


def _strings() -> serializers.DictField:
    """A key/value editor's rows (environment variables, tags); null for none."""
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
        default=dict,
    )


def _function(account: Account, name: str) -> Function:
    return selectors.function_get_for_account(account, name)


def _update(
    request: SignedInRequest, account: Account, function: Function, params: dict[str, Any]
) -> dict[str, Any]:
    """UpdateFunctionConfiguration with ``params``, as the API runs it (and authorizes it)."""
    params = checked("UpdateFunctionConfiguration", params, FunctionName=function.name)
    require(request, Action.CONFIGURE, **params)
    resolved = selectors.function_resolve(account, function.name)
    version = function_services.function_update_configuration(resolved=resolved, params=params)
    return render.function_configuration(version)


class GeneralSettingsInput(serializers.Serializer[Any]):
    """The general settings; a key left out is left unchanged."""

    Description = _text()
    MemorySize = serializers.IntegerField(required=False, allow_null=True)
    Timeout = serializers.IntegerField(required=False, allow_null=True)
    EphemeralStorage = serializers.IntegerField(
        required=False, allow_null=True, help_text="The /tmp size in MB."
    )


class GeneralSettingsView(APIView):
    error_fields = {
        "Description": "description",
        "MemorySize": "memorySize",
        "Timeout": "timeout",
        "EphemeralStorage": "ephemeralStorage.size",
    }

    @extend_schema(request=GeneralSettingsInput, responses=FUNCTION_CONFIGURATION)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Change the description, memory, timeout and ephemeral storage of $LATEST."""
        account = request.user.account
        function = _function(account, name)
        data = GeneralSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        if "EphemeralStorage" in params:
            params["EphemeralStorage"] = {"Size": params["EphemeralStorage"]}
        with fields("general"):
            return Response(_update(request, account, function, params))


class LoggingInput(serializers.Serializer[Any]):
    """The logging controls; the levels count only with the JSON format."""

    LogFormat = serializers.CharField()
    ApplicationLogLevel = _text()
    SystemLogLevel = _text()
    LogGroup = _text(help_text="Empty: the default group, /aws/lambda/<function name>.")


class LoggingView(APIView):
    error_fields = {
        "LogFormat": "loggingConfig.logFormat",
        "ApplicationLogLevel": "loggingConfig.applicationLogLevel",
        "SystemLogLevel": "loggingConfig.systemLogLevel",
        "LogGroup": "loggingConfig.logGroup",
    }

    @extend_schema(request=LoggingInput, responses=FUNCTION_CONFIGURATION)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Set $LATEST's log format, log levels and log group (LoggingConfig)."""
        account = request.user.account
        function = _function(account, name)
        data = LoggingInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        config: dict[str, str] = {
            "LogFormat": given["LogFormat"],
            "LogGroup": given.get("LogGroup") or f"/aws/lambda/{function.name}",
        }
        if given["LogFormat"] == logging_config.JSON:
            for level in ("ApplicationLogLevel", "SystemLogLevel"):
                config[level] = given.get(level) or logging_config.DEFAULT_LEVEL
        with fields("logging"):
            return Response(_update(request, account, function, {"LoggingConfig": config}))


class EnvironmentInput(serializers.Serializer[Any]):
    Variables = _strings()


class EnvironmentView(APIView):
    error_fields = {"Variables": "environment.variables"}

    @extend_schema(request=EnvironmentInput, responses=FUNCTION_CONFIGURATION)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Replace $LATEST's environment variables."""
        account = request.user.account
        function = _function(account, name)
        data = EnvironmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        variables = data.validated_data["Variables"] or {}
        with fields("environment.variables", _ENV_TEXTS):
            params = {"Environment": {"Variables": variables}}
            return Response(_update(request, account, function, params))


class TagsInput(serializers.Serializer[Any]):
    Tags = _strings()


class TagsOutput(serializers.Serializer[Any]):
    Tags = serializers.DictField(child=serializers.CharField(allow_blank=True))


class TagsView(APIView):
    error_fields = {"Tags": "tags"}

    @extend_schema(request=TagsInput, responses=TagsOutput)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Replace the function's tags: TagResource for the new set, UntagResource for the
        rest."""
        function = _function(request.user.account, name)
        data = TagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = data.validated_data["Tags"] or {}
        resource = arns.function_arn(function.account_id, function.name)
        with fields("tags"):
            if wanted:
                wanted = checked("TagResource", {"Tags": wanted}, Resource=resource)["Tags"]
        # Both sides of the replacement, before either is made.
        added = {k: v for k, v in wanted.items() if function.tags.get(k) != v}
        removed = sorted(set(function.tags) - set(wanted))
        if added:
            require(request, Action.TAG, Resource=resource, Tags=added)
        if removed:
            require(request, Action.UNTAG, Resource=resource, TagKeys=removed)
        with fields("tags"):
            return Response({"Tags": tag_services.tags_replace(function=function, tags=wanted)})


class PolicyDocumentOutput(serializers.Serializer[Any]):
    Version = serializers.CharField()
    Id = serializers.CharField()
    Statement = serializers.ListField(child=serializers.DictField())


class PolicyOutput(serializers.Serializer[Any]):
    Policy = PolicyDocumentOutput(help_text="The resource-based policy, as GetPolicy has it.")


def _policy(account: Account, function: Function) -> dict[str, Any]:
    resolved = selectors.function_resolve(account, function.name, follow_alias=False)
    return {"Policy": render.policy_document(selectors.policy_statements(resolved))}


_PRINCIPAL_TEXTS = {"principal": "principal", "statement id": "statementId"}


class PermissionInput(serializers.Serializer[Any]):
    """An AddPermission statement; empty members are left out."""

    StatementId = _text()
    Action = _text()
    Principal = _text()
    SourceArn = _text()
    SourceAccount = _text()


class PolicyView(APIView):
    error_fields = {
        "StatementId": "statementId",
        "Action": "action",
        "Principal": "principal",
        "SourceArn": "sourceArn",
        "SourceAccount": "sourceAccount",
    }

    @extend_schema(request=PermissionInput, responses={201: PolicyOutput})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Add a statement to the function's policy (AddPermission); answers the policy."""
        account = request.user.account
        function = _function(account, name)
        data = PermissionInput(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = {key: value for key, value in data.validated_data.items() if value}
        with fields("policy", _PRINCIPAL_TEXTS):
            params = checked("AddPermission", wanted, FunctionName=function.name)
            require(request, Action.ADD_PERMISSION, **params)
            resolved = selectors.function_resolve(account, function.name, follow_alias=False)
            policy_services.permission_add(resolved=resolved, params=params)
        return Response(_policy(account, function), status=201)


class PolicyStatementView(APIView):
    # The page redraws the policy from the answer, so this deletion answers it (not 204).
    @extend_schema(responses=PolicyOutput)
    def delete(self, request: SignedInRequest, name: str, sid: str) -> Response:
        """Remove a statement (RemovePermission); answers the policy left."""
        account = request.user.account
        function = _function(account, name)
        with fields("policy"):
            checked("RemovePermission", {}, FunctionName=function.name, StatementId=sid)
            require(request, Action.REMOVE_PERMISSION, FunctionName=function.name, StatementId=sid)
            resolved = selectors.function_resolve(account, function.name, follow_alias=False)
            policy_services.permission_remove(resolved=resolved, sid=sid, revision_id=None)
        return Response(_policy(account, function))


class ConcurrencyInput(serializers.Serializer[Any]):
    ReservedConcurrentExecutions = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Executions to reserve; null to use the account's unreserved pool.",
    )


class ConcurrencyOutput(serializers.Serializer[Any]):
    ReservedConcurrentExecutions = serializers.IntegerField(allow_null=True)
    UnreservedConcurrentExecutions = serializers.IntegerField()


class ConcurrencyView(APIView):
    error_fields = {"ReservedConcurrentExecutions": "reservedConcurrentExecutions"}

    @extend_schema(request=ConcurrencyInput, responses=ConcurrencyOutput)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Reserve concurrency, or (``null``) go back to the account's unreserved pool."""
        function = _function(request.user.account, name)
        data = ConcurrencyInput(data=request.data)
        data.is_valid(raise_exception=True)
        reserved = data.validated_data["ReservedConcurrentExecutions"]
        with fields("reservedConcurrentExecutions"):
            if reserved is None:
                checked("DeleteFunctionConcurrency", {}, FunctionName=function.name)
                require(request, Action.DELETE_CONCURRENCY, FunctionName=function.name)
                concurrency_services.concurrency_delete(function=function)
            else:
                params = checked(
                    "PutFunctionConcurrency",
                    {"ReservedConcurrentExecutions": reserved},
                    FunctionName=function.name,
                )
                require(request, Action.PUT_CONCURRENCY, **params)
                concurrency_services.concurrency_put(
                    function=function, reserved=int(params["ReservedConcurrentExecutions"])
                )
        return Response(
            {
                "ReservedConcurrentExecutions": reserved,
                "UnreservedConcurrentExecutions": selectors.unreserved_concurrency(
                    function.account
                ),
            }
        )


class FunctionLayersInput(serializers.Serializer[Any]):
    Layers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        default=list,
        help_text="Layer version ARNs, in the order they are merged.",
    )


class FunctionLayersView(APIView):
    error_fields = {"Layers": "layers"}

    @extend_schema(request=FunctionLayersInput, responses=FUNCTION_CONFIGURATION)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Set the function's layers, in order (UpdateFunctionConfiguration ``Layers``)."""
        account = request.user.account
        function = _function(account, name)
        data = FunctionLayersInput(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = data.validated_data["Layers"] or []
        with fields("layers"):
            return Response(_update(request, account, function, {"Layers": wanted}))


_DEAD_LETTER = "deadLetterConfig.targetArn"


class AsyncSettingsInput(serializers.Serializer[Any]):
    """Every asynchronous-invocation setting of $LATEST; an empty destination is none."""

    MaximumEventAgeInSeconds = serializers.IntegerField(
        required=False, allow_null=True, default=None
    )
    MaximumRetryAttempts = serializers.IntegerField(required=False, allow_null=True, default=None)
    OnSuccess = serializers.CharField(required=False, allow_null=True, allow_blank=True, default="")
    OnFailure = serializers.CharField(required=False, allow_null=True, allow_blank=True, default="")
    DeadLetterTargetArn = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, default=""
    )


class AsyncSettingsOutput(serializers.Serializer[Any]):
    """The settings in effect (the service's defaults where unset)."""

    MaximumEventAgeInSeconds = serializers.IntegerField()
    MaximumRetryAttempts = serializers.IntegerField()
    OnSuccess = serializers.CharField(allow_blank=True)
    OnFailure = serializers.CharField(allow_blank=True)
    DeadLetterTargetArn = serializers.CharField(allow_blank=True)


class AsyncSettingsView(APIView):
    error_fields = {
        "MaximumEventAgeInSeconds": "maximumEventAgeInSeconds",
        "MaximumRetryAttempts": "maximumRetryAttempts",
        "OnSuccess": "destinationConfig.onSuccess.destination",
        "OnFailure": "destinationConfig.onFailure.destination",
        "DeadLetterTargetArn": _DEAD_LETTER,
    }

    @extend_schema(request=AsyncSettingsInput, responses=AsyncSettingsOutput)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """PutFunctionEventInvokeConfig for $LATEST (the form holds every setting), and the
        dead-letter queue through UpdateFunctionConfiguration when it changed."""
        account = request.user.account
        function = _function(account, name)
        data = AsyncSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        form = data.validated_data
        on_success = (form["OnSuccess"] or "").strip()
        on_failure = (form["OnFailure"] or "").strip()
        dead_letter = (form["DeadLetterTargetArn"] or "").strip()
        with fields(_DEAD_LETTER):
            function_services.check_dead_letter_target(dead_letter)
        with fields("async"):
            params = checked(
                "PutFunctionEventInvokeConfig",
                {
                    "MaximumEventAgeInSeconds": form["MaximumEventAgeInSeconds"],
                    "MaximumRetryAttempts": form["MaximumRetryAttempts"],
                    "DestinationConfig": {
                        "OnSuccess": {"Destination": on_success},
                        "OnFailure": {"Destination": on_failure},
                    },
                },
                FunctionName=function.name,
            )
            dead_letter_params = checked(
                "UpdateFunctionConfiguration",
                {"DeadLetterConfig": {"TargetArn": dead_letter}},
                FunctionName=function.name,
            )
            require(request, Action.ASYNC_CONFIG, **params)
            require(request, Action.CONFIGURE, **dead_letter_params)
            resolved = selectors.event_invoke_resolve(
                account, function.name, FunctionVersion.LATEST, reading=False
            )
            event_invoke_services.event_invoke_settings_put(
                resolved=resolved, params=params, dead_letter_target_arn=dead_letter
            )
        return Response(selectors.event_invoke_settings_latest(function))


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
    path(base + "general", GeneralSettingsView.as_view(), name="configuration-general"),
    path(base + "environment", EnvironmentView.as_view(), name="configuration-environment"),
    path(base + "logging", LoggingView.as_view(), name="configuration-logging"),
    path(base + "tags", TagsView.as_view(), name="configuration-tags"),
    path(base + "policy", PolicyView.as_view(), name="configuration-policy-add"),
    path(
        base + "policy/<str:sid>",
        PolicyStatementView.as_view(),
        name="configuration-policy-remove",
    ),
    path(base + "concurrency", ConcurrencyView.as_view(), name="configuration-concurrency"),
    path(base + "layers", FunctionLayersView.as_view(), name="configuration-layers"),
    path(base + "async", AsyncSettingsView.as_view(), name="configuration-async"),
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
            "role_warning": _role_warning(function, latest.role),
            "logging": logging_config.effective(latest.logging_config, function.name),
            "application_levels": ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"],
            "system_levels": ["DEBUG", "INFO", "WARN"],
        }
    }


def _role_warning(function: Function, role_arn: str) -> str:
    """Why the function runs without credentials ('' when its role gives them)."""
    check = sts.execution_role_check(
        function.account_id, role_arn, arns.function_arn(function.account_id, function.name)
    )
    if check.problem == sts.ExecutionRole.MISSING:
        return (
            f"The execution role {role_arn} does not exist in this account; the function "
            "runs without credentials."
        )
    if check.problem == sts.ExecutionRole.UNTRUSTED:
        return (
            f"The execution role {role_arn} does not trust lambda.amazonaws.com (its trust "
            "policy does not let Lambda assume it); the function runs without credentials."
        )
    return ""
