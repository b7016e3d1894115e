"""Console: the function's Triggers panel (configuration tab) and the JSON endpoints its
script calls.

The panel lists what invokes the function: its URLs, its event source mappings and the
EventBridge rules that target it. Mappings are made, enabled/disabled and deleted through the
event-source-mapping services (Create/Update/DeleteEventSourceMapping's own checks and
words); rules as AWS's console makes them (:mod:`triggers.rules.function_triggers`): the
rule, its target and the permission for ``events.amazonaws.com``, in one step. Every answer
carries the whole panel again so the page redraws from one source, and the mapping or rule
the change answered (a mapping in the state the change started, e.g. ``Creating``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi.errors import AWSError, ResourceNotFound
from awsapi.validation import validate
from console.pages._forms import checked, fields
from console.pages._request import ConsoleRequest
from console.pages.function_urls import PolicyChangeOutput, url_rows
from console.permissions import Action, require
from functions import render as function_render
from functions import selectors as function_selectors
from functions.models import Function
from platformapi.views import SignedInRequest
from triggers import render, selectors
from triggers.models import EventSourceMapping, Rule
from triggers.rules import errors as rule_errors
from triggers.rules import function_triggers
from triggers.rules import selectors as rule_selectors
from triggers.rules.services import RuleInput
from triggers.services import event_source_mappings as mapping_services

# Input member (serializer path or validation path) → the control that shows its error.
_ERROR_FIELDS = {
    "EventSourceArn": "eventSourceArn",
    "BatchSize": "batchSize",
    "MaximumBatchingWindowInSeconds": "maximumBatchingWindowInSeconds",
    "StartingPosition": "startingPosition",
    "StartingPositionTimestamp": "startingPosition",
    "FilterPattern": "filterCriteria",
    "ReportBatchItemFailures": "functionResponseTypes",
    "MetricsEnabled": "metricsConfig",
    "Enabled": "enabled",
    "Queues": "queues",
    "BasicAuthSecretArn": "sourceAccessConfigurations",
    "VirtualHost": "sourceAccessConfigurations",
    "Name": "name",
    "ScheduleExpression": "scheduleExpression",
    "EventPattern": "eventPattern",
    "Description": "description",
}
# Service messages that name no member → the control that shows them.
_MAPPING_TEXTS = {
    # Before "batch size": "Maximum batch window ... if maximum batch size is ..." is the
    # window's error.
    "batch window": "maximumBatchingWindowInSeconds",
    "BatchSize": "batchSize",
    "batch size": "batchSize",
    "MaximumBatchingWindowInSeconds": "maximumBatchingWindowInSeconds",
    "tarting": "startingPosition",
    "timestamp": "startingPosition",
    "filter pattern": "filterCriteria",
    "FilterCriteria": "filterCriteria",
    "queues": "queues",
    "BASIC_AUTH": "sourceAccessConfigurations",
    "SourceAccessConfigurations": "sourceAccessConfigurations",
    "FunctionResponseTypes": "functionResponseTypes",
    "MetricsConfig": "metricsConfig",
    # Last: messages about a setting also say "event source(s)".
    "EventSourceArn": "eventSourceArn",
    "already exists": "eventSourceArn",
    "event source": "eventSourceArn",
}
_RULE_TEXTS = {
    "Rule ": "name",
    "Event pattern": "eventPattern",
    "EventPattern": "eventPattern",
}

# Controls that stand for a whole structure: a validation path inside one
# (``filterCriteria.filters.1.member.pattern``) is shown at the structure's control.
_STRUCTURES = (
    "filterCriteria",
    "sourceAccessConfigurations",
    "queues",
    "metricsConfig",
    "functionResponseTypes",
)


@contextmanager
def _mapping_fields() -> Iterator[None]:
    """:func:`fields` for the mapping form, a path inside a structure shown at its control."""
    try:
        with fields("mapping", _MAPPING_TEXTS):
            yield
    except AWSError as error:
        field = getattr(error, "field", None) or ""
        control = next((c for c in _STRUCTURES if field.startswith(c)), None)
        if control is not None:
            error.field = control  # type: ignore[attr-defined]
        raise


# The only metric AWS's MetricsConfig names: the mapping's event counts.
METRICS_ON = {"Metrics": ["EventCount"]}


def _function(request: SignedInRequest, name: str) -> Function:
    """The caller's function ``name``; another account's, or none, is a 404."""
    return function_selectors.function_get_for_account(request.user.account, name)


# --- reading ------------------------------------------------------------------------------


def _rule_row(rule: Rule, function_arn: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Name": rule.name,
        "Arn": rule_selectors.rule_arn(rule),
        "State": rule.state,
        "Description": rule.description,
        "ScheduleExpression": rule.schedule_expression,
        "EventPattern": rule.event_pattern,
        "NextFireAt": rule.next_fire_at.timestamp() if rule.next_fire_at else None,
        "TargetArns": [
            target.arn for target in rule_selectors.targets_of_function(rule, function_arn)
        ],
    }
    return row


def panel(function: Function, request: HttpRequest) -> dict[str, Any]:
    """Everything that invokes the function, as the panel shows it."""
    function_arn = function_triggers.function_arn(function)
    return {
        "Urls": url_rows(function, request),
        "EventSourceMappings": [
            render.mapping_configuration(mapping)
            for mapping in selectors.mappings_of_function(function)
        ],
        "Rules": [
            _rule_row(rule, function_arn)
            for rule in rule_selectors.rules_targeting(function.account, function_arn)
        ],
    }


class RuleOutput(serializers.Serializer[Any]):
    Name = serializers.CharField()
    Arn = serializers.CharField()
    State = serializers.CharField(help_text="ENABLED or DISABLED.")
    Description = serializers.CharField(allow_blank=True)
    ScheduleExpression = serializers.CharField(allow_blank=True)
    EventPattern = serializers.CharField(allow_blank=True)
    NextFireAt = serializers.FloatField(
        allow_null=True, help_text="When the schedule fires next (epoch seconds), if it does."
    )
    TargetArns = serializers.ListField(
        child=serializers.CharField(), help_text="The rule's targets that invoke this function."
    )


class TriggersOutput(serializers.Serializer[Any]):
    """The function's triggers."""

    Urls = serializers.ListField(
        child=serializers.DictField(),
        help_text="Each URL as GetFunctionUrlConfig answers it, with its Qualifier.",
    )
    EventSourceMappings = serializers.ListField(
        child=serializers.DictField(),
        help_text="Each mapping as GetEventSourceMapping answers it.",
    )
    Rules = RuleOutput(many=True, help_text="The EventBridge rules that target the function.")


class MappingChangeOutput(TriggersOutput):
    Mapping = serializers.DictField(
        help_text="The mapping as the API answered the change (in the state it started)."
    )


class RuleChangeOutput(TriggersOutput):
    Rule = RuleOutput(allow_null=True, help_text="The rule after the change (null if deleted).")
    PolicyChanges = PolicyChangeOutput(many=True)
    Policy = serializers.DictField(help_text="The function's policy, as GetPolicy has it.")


class TriggersView(APIView):
    @extend_schema(responses=TriggersOutput)
    def get(self, request: SignedInRequest, name: str) -> Response:
        """The function's URLs, event source mappings and EventBridge rules."""
        function = _function(request, name)
        require(request, Action.VIEW_FUNCTION, FunctionName=function.name)
        return Response(panel(function, request))


# --- event source mappings ----------------------------------------------------------------


def _optional_int() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True)


class MappingInput(serializers.Serializer[Any]):
    """A new mapping of an SQS queue, a Kinesis stream or an Amazon MQ (RabbitMQ) broker's
    queue to the function: CreateEventSourceMapping's members, with the console's
    shorthands for filters, batch item failures, metrics and the broker's secret."""

    EventSourceArn = serializers.CharField(allow_blank=True)
    BatchSize = _optional_int()
    MaximumBatchingWindowInSeconds = _optional_int()
    StartingPosition = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="Streams only."
    )
    StartingPositionTimestamp = serializers.FloatField(
        required=False, allow_null=True, help_text="Epoch seconds, for AT_TIMESTAMP."
    )
    FilterPattern = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="One filter's JSON pattern (FilterCriteria.Filters[0].Pattern).",
    )
    ReportBatchItemFailures = serializers.BooleanField(required=False, default=False)
    MetricsEnabled = serializers.BooleanField(
        required=False, default=True, help_text='MetricsConfig {"Metrics": ["EventCount"]}.'
    )
    Enabled = serializers.BooleanField(required=False, default=True)
    Queues = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Amazon MQ: the queue to consume.",
    )
    BasicAuthSecretArn = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Amazon MQ: the secret with the broker's user name and password.",
    )
    VirtualHost = serializers.CharField(
        required=False, allow_blank=True, help_text="Amazon MQ (RabbitMQ)."
    )


def _mapping_params(function: Function, data: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"EventSourceArn": data["EventSourceArn"], "Enabled": data["Enabled"]}
    for member in ("BatchSize", "MaximumBatchingWindowInSeconds", "StartingPosition"):
        if data.get(member) not in (None, ""):
            params[member] = data[member]
    if data.get("StartingPositionTimestamp") is not None:
        params["StartingPositionTimestamp"] = data["StartingPositionTimestamp"]
    if (data.get("FilterPattern") or "").strip():
        params["FilterCriteria"] = {"Filters": [{"Pattern": data["FilterPattern"]}]}
    if data["ReportBatchItemFailures"]:
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if data["MetricsEnabled"]:
        params["MetricsConfig"] = METRICS_ON
    if data.get("Queues"):
        params["Queues"] = data["Queues"]
    access = []
    if data.get("BasicAuthSecretArn"):
        access.append({"Type": "BASIC_AUTH", "URI": data["BasicAuthSecretArn"]})
    if data.get("VirtualHost"):
        access.append({"Type": "VIRTUAL_HOST", "URI": data["VirtualHost"]})
    if access:
        params["SourceAccessConfigurations"] = access
    return checked("CreateEventSourceMapping", params, FunctionName=function.name)


class MappingEnabledInput(serializers.Serializer[Any]):
    Enabled = serializers.BooleanField()


def _mapping_answer(
    request: HttpRequest, function: Function, mapping: EventSourceMapping, state: str, status: int
) -> Response:
    body = panel(function, request)
    body["Mapping"] = render.mapping_configuration(mapping, state=state)
    return Response(body, status=status)


class MappingsView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=MappingInput, responses={201: MappingChangeOutput})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Map an event source to the function (CreateEventSourceMapping)."""
        function = _function(request, name)
        data = MappingInput(data=request.data)
        data.is_valid(raise_exception=True)
        with _mapping_fields():
            params = _mapping_params(function, data.validated_data)
            require(request, Action.CREATE_MAPPING, **params)
            mapping = mapping_services.mapping_create(account=function.account, params=params)
        return _mapping_answer(request, function, mapping, EventSourceMapping.CREATING, 201)


def _require_mapping(
    request: SignedInRequest, action: Action, function: Function, mapping: EventSourceMapping
) -> None:
    require(request, action, UUID=str(mapping.uuid), FunctionName=function.name)


class MappingView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=MappingEnabledInput, responses=MappingChangeOutput)
    def put(self, request: SignedInRequest, name: str, uuid: str) -> Response:
        """Enable or disable one of the function's mappings (UpdateEventSourceMapping)."""
        function = _function(request, name)
        data = MappingEnabledInput(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = selectors.mapping_get_for_function(function, uuid)
        _require_mapping(request, Action.UPDATE_MAPPING, function, mapping)
        with fields("mapping"):
            updated = mapping_services.mapping_update(
                mapping=mapping, params={"Enabled": data.validated_data["Enabled"]}
            )
        return _mapping_answer(request, function, updated, updated.state, 200)

    @extend_schema(responses=MappingChangeOutput)
    def delete(self, request: SignedInRequest, name: str, uuid: str) -> Response:
        """Delete one of the function's mappings (DeleteEventSourceMapping)."""
        function = _function(request, name)
        mapping = selectors.mapping_get_for_function(function, uuid)
        _require_mapping(request, Action.DELETE_MAPPING, function, mapping)
        with fields("mapping"):
            deleted = mapping_services.mapping_delete(mapping=mapping)
        return _mapping_answer(request, function, deleted, EventSourceMapping.DELETING, 200)


# --- EventBridge rules --------------------------------------------------------------------


class RuleInputSerializer(serializers.Serializer[Any]):
    """A new rule that invokes the function: a schedule or an event pattern."""

    # No lengths or patterns here: PutRule's own validation judges them, in its words.
    Name = serializers.CharField(allow_blank=True, trim_whitespace=False)
    ScheduleExpression = serializers.CharField(required=False, allow_blank=True)
    EventPattern = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    Description = serializers.CharField(required=False, allow_blank=True)
    Enabled = serializers.BooleanField(required=False, default=True)


class RuleEnabledInput(serializers.Serializer[Any]):
    Enabled = serializers.BooleanField()


def _rule_answer(
    request: HttpRequest,
    function: Function,
    rule: Rule | None,
    changes: list[function_triggers.PolicyChange],
    status: int,
) -> Response:
    body = panel(function, request)
    function_arn = function_triggers.function_arn(function)
    body["Rule"] = _rule_row(rule, function_arn) if rule is not None else None
    body["PolicyChanges"] = [
        {"Sid": change.sid, "Action": change.action, "Added": change.added} for change in changes
    ]
    resolved = function_selectors.function_resolve(function.account, function.name)
    body["Policy"] = function_render.policy_document(function_selectors.policy_statements(resolved))
    return Response(body, status=status)


def _rule_missing(error: rule_errors.ResourceNotFound) -> ResourceNotFound:
    # EventBridge answers a missing rule with 400; here it is a missing resource of the page.
    return ResourceNotFound(error.message)


def _require_rule_add(request: SignedInRequest, function: Function, params: dict[str, Any]) -> None:
    """What AWS's console needs to add an EventBridge trigger: the rule, its target, and the
    function's permission for EventBridge."""
    require(request, Action.PUT_RULE, **params)
    arn = function_triggers.function_arn(function)
    require(
        request,
        Action.PUT_TARGETS,
        Rule=params["Name"],
        Targets=[{"Id": function.name, "Arn": arn}],
    )
    require(
        request,
        Action.ADD_PERMISSION,
        FunctionName=function.name,
        Principal="events.amazonaws.com",
        Action="lambda:InvokeFunction",
    )


class RulesView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=RuleInputSerializer, responses={201: RuleChangeOutput})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Add an EventBridge trigger: PutRule, PutTargets with the function, and
        AddPermission for events.amazonaws.com from the rule's ARN, as AWS's console does."""
        function = _function(request, name)
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        form = data.validated_data
        params = {
            "Name": form["Name"],
            "State": Rule.ENABLED if form["Enabled"] else Rule.DISABLED,
        }
        for member in ("ScheduleExpression", "EventPattern", "Description"):
            if form.get(member):
                params[member] = form[member]
        default = "scheduleExpression" if form.get("ScheduleExpression") else "eventPattern"
        with fields(default, _RULE_TEXTS):
            validate("events", "PutRule", params)
            _require_rule_add(request, function, params)
            rule, changes = function_triggers.rule_trigger_add(
                function,
                RuleInput(
                    name=params["Name"],
                    schedule_expression=params.get("ScheduleExpression", ""),
                    event_pattern=params.get("EventPattern", ""),
                    state=params["State"],
                    description=params.get("Description", ""),
                    role_arn="",
                ),
            )
        return _rule_answer(request, function, rule, changes, 201)


class RuleView(APIView):
    error_fields = _ERROR_FIELDS

    @extend_schema(request=RuleEnabledInput, responses=RuleChangeOutput)
    def put(self, request: SignedInRequest, name: str, rule: str) -> Response:
        """Enable or disable one of the function's rules (EnableRule / DisableRule)."""
        function = _function(request, name)
        data = RuleEnabledInput(data=request.data)
        data.is_valid(raise_exception=True)
        enabled = data.validated_data["Enabled"]
        require(request, Action.ENABLE_RULE if enabled else Action.DISABLE_RULE, Name=rule)
        try:
            changed = function_triggers.rule_trigger_set_state(
                function, rule, data.validated_data["Enabled"]
            )
        except rule_errors.ResourceNotFound as error:
            raise _rule_missing(error) from None
        return _rule_answer(request, function, changed, [], 200)

    @extend_schema(responses=RuleChangeOutput)
    def delete(self, request: SignedInRequest, name: str, rule: str) -> Response:
        """Remove the trigger: the function's targets (RemoveTargets), the permission the
        console added, and the rule itself when no other target is left on it."""
        function = _function(request, name)
        # The rule goes too when the function was its only target: asked for up front.
        for action in (Action.REMOVE_TARGETS, Action.DELETE_RULE):
            require(request, action, Name=rule)
        require(request, Action.REMOVE_PERMISSION, FunctionName=function.name)
        try:
            changes = function_triggers.rule_trigger_remove(function, rule)
        except rule_errors.ResourceNotFound as error:
            raise _rule_missing(error) from None
        return _rule_answer(request, function, None, changes, 200)


urlpatterns: list[Any] = [
    path("functions/<str:name>/triggers", TriggersView.as_view(), name="triggers"),
    path("functions/<str:name>/triggers/mappings", MappingsView.as_view(), name="trigger-mappings"),
    path(
        "functions/<str:name>/triggers/mappings/<str:uuid>",
        MappingView.as_view(),
        name="trigger-mapping",
    ),
    path("functions/<str:name>/triggers/rules", RulesView.as_view(), name="trigger-rules"),
    path("functions/<str:name>/triggers/rules/<str:rule>", RuleView.as_view(), name="trigger-rule"),
]


# How the overview names a mapping's source type (the ARN's service).
_SOURCE_TYPES = {
    "sqs": "SQS",
    "kinesis": "Kinesis",
    "dynamodb": "DynamoDB",
    "mq": "Amazon MQ",
    "kafka": "Amazon MSK",
    "rds": "DocumentDB",
}


def source_summary(mapping: dict[str, Any]) -> tuple[str, str]:
    """(type, name) of a mapping's source for the overview: ``SQS``/``orders`` for a queue,
    ``Kinesis``/``clicks`` for ``stream/clicks``, ``Amazon MQ``/the broker's name. The page's
    script names them the same way (triggers.js)."""
    arn = str(mapping.get("EventSourceArn") or "")
    parts = arn.split(":")
    if len(parts) < 6:
        return "Self-managed", ", ".join(mapping.get("Topics") or mapping.get("Queues") or [])
    service, resource = parts[2], ":".join(parts[5:])
    if service == "mq" and len(parts) > 6:
        name = parts[6]
    elif service == "dynamodb":
        name = resource.split("/")[1] if "/" in resource else resource
    else:
        name = resource.rsplit("/", 1)[-1]
    return _SOURCE_TYPES.get(service, service), name


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for the Triggers panel and the overview's triggers line."""
    state = panel(function, request)
    overview = [
        {"kind": kind, "name": name, "state": mapping["State"]}
        for mapping in state["EventSourceMappings"]
        for kind, name in [source_summary(mapping)]
    ] + [
        {"kind": "EventBridge", "name": rule["Name"], "state": rule["State"]}
        for rule in state["Rules"]
    ]
    return {
        "triggers": {"state": {"function": function.name, **state}, "overview": overview, **state}
    }
