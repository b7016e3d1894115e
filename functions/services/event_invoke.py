"""Writes for asynchronous-invocation settings: Put/Update/DeleteFunctionEventInvokeConfig.

A configuration belongs to $LATEST, a published version or an alias (its qualifier). The
texts follow AWS's as LocalStack records them from the live service.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from awsapi.errors import AWSError, InvalidParameterValue
from functions import arns
from functions.models import EventInvokeConfig, Function
from functions.selectors import Resolved, event_invoke_qualifier, no_event_invoke_config
from functions.services import functions as function_services

# The members a destination error is about, as validation messages name them.
ON_SUCCESS_MEMBER = "destinationConfig.onSuccess.destination"
ON_FAILURE_MEMBER = "destinationConfig.onFailure.destination"

# Destination services an asynchronous invocation record can go to; S3 only on failure.
_DESTINATION_SERVICES = {"lambda", "sqs", "sns", "events"}
_FAILURE_ONLY_SERVICES = {"s3"}


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 and parts[0] == "arn" else ""


def _shown(kind: str, destination: str) -> str:
    return f"{kind}(destination={destination})" if destination else "null"


def destinations_check(*, function: Function, on_success: str, on_failure: str) -> None:
    """Reject destinations an asynchronous invocation cannot send its record to."""
    wrong = (on_success and _service_of(on_success) not in _DESTINATION_SERVICES) or (
        on_failure and _service_of(on_failure) not in _DESTINATION_SERVICES | _FAILURE_ONLY_SERVICES
    )
    if wrong:
        raise InvalidParameterValue(
            "The provided destination config DestinationConfig("
            f"onSuccess={_shown('OnSuccess', on_success)}, "
            f"onFailure={_shown('OnFailure', on_failure)}) is invalid."
        )
    for destination in (on_success, on_failure):
        if _service_of(destination) != "lambda":
            continue
        ref = arns.parse_function_name(destination)
        if ref is None or ref.account_id != function.account_id:
            raise InvalidParameterValue(f"The destination ARN {destination} is invalid.")
        if ref.name == function.name:
            raise InvalidParameterValue(
                "You can't specify the function as a destination for itself."
            )
        if not Function.objects.filter(account_id=function.account_id, name=ref.name).exists():
            raise InvalidParameterValue(f"The destination ARN {destination} is invalid.")


def _require_a_setting(params: dict[str, Any]) -> None:
    if all(
        params.get(key) is None
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
    ):
        raise InvalidParameterValue(
            "You must specify at least one of error handling or destination setting."
        )


def _destination(params: dict[str, Any], which: str) -> str | None:
    """The ``Destination`` given for ``which`` ('' clears it), or None when not given."""
    config = params.get("DestinationConfig") or {}
    if which not in config or config[which] is None:
        return None
    return str((config[which] or {}).get("Destination") or "")


def event_invoke_config_put(*, resolved: Resolved, params: dict[str, Any]) -> EventInvokeConfig:
    """PutFunctionEventInvokeConfig: replace the settings; what is left out is removed."""
    _require_a_setting(params)
    on_success = _destination(params, "OnSuccess") or ""
    on_failure = _destination(params, "OnFailure") or ""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        destinations_check(function=function, on_success=on_success, on_failure=on_failure)
        config, _ = EventInvokeConfig.objects.update_or_create(
            function=function,
            qualifier=event_invoke_qualifier(resolved),
            defaults={
                "maximum_retry_attempts": params.get("MaximumRetryAttempts"),
                "maximum_event_age": params.get("MaximumEventAgeInSeconds"),
                "on_success": on_success,
                "on_failure": on_failure,
                "last_modified": timezone.now(),
            },
        )
        return config


def event_invoke_config_update(*, resolved: Resolved, params: dict[str, Any]) -> EventInvokeConfig:
    """UpdateFunctionEventInvokeConfig: change only the settings given."""
    _require_a_setting(params)
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        config = (
            EventInvokeConfig.objects.select_for_update()
            .filter(function=function, qualifier=event_invoke_qualifier(resolved))
            .first()
        )
        if config is None:
            raise no_event_invoke_config(function, event_invoke_qualifier(resolved))
        if params.get("MaximumRetryAttempts") is not None:
            config.maximum_retry_attempts = params["MaximumRetryAttempts"]
        if params.get("MaximumEventAgeInSeconds") is not None:
            config.maximum_event_age = params["MaximumEventAgeInSeconds"]
        on_success = _destination(params, "OnSuccess")
        on_failure = _destination(params, "OnFailure")
        if on_success is not None:
            config.on_success = on_success
        if on_failure is not None:
            config.on_failure = on_failure
        destinations_check(
            function=function, on_success=config.on_success, on_failure=config.on_failure
        )
        config.last_modified = timezone.now()
        config.save()
        return config


def event_invoke_config_delete(*, resolved: Resolved) -> None:
    """DeleteFunctionEventInvokeConfig."""
    qualifier = event_invoke_qualifier(resolved)
    with transaction.atomic():
        deleted, _ = EventInvokeConfig.objects.filter(
            function=resolved.function, qualifier=qualifier
        ).delete()
    if not deleted:
        raise no_event_invoke_config(resolved.function, qualifier)


@contextmanager
def _about(member: str) -> Iterator[None]:
    """Name ``member`` on an error raised inside, unless it names one already."""
    try:
        yield
    except AWSError as error:
        if error.member is None:
            error.member = member
        raise


def event_invoke_settings_put(
    *, resolved: Resolved, params: dict[str, Any], dead_letter_target_arn: str
) -> EventInvokeConfig:
    """PutFunctionEventInvokeConfig for $LATEST and, when it changed, its dead-letter queue
    (UpdateFunctionConfiguration ``DeadLetterConfig``), in one transaction: the settings
    AWS's console edits in one form. ``params`` are PutFunctionEventInvokeConfig's, validated.

    Each destination is checked on its own first, so that an error names its member.
    """
    function = resolved.function
    with _about(ON_SUCCESS_MEMBER):
        destinations_check(
            function=function, on_success=_destination(params, "OnSuccess") or "", on_failure=""
        )
    with _about(ON_FAILURE_MEMBER):
        destinations_check(
            function=function, on_success="", on_failure=_destination(params, "OnFailure") or ""
        )
    with transaction.atomic():
        config = event_invoke_config_put(resolved=resolved, params=params)
        latest = function.versions.get(number=0)
        if dead_letter_target_arn != latest.dead_letter_target_arn:
            function_services.function_update_configuration(
                resolved=resolved,
                params={"DeadLetterConfig": {"TargetArn": dead_letter_target_arn}},
            )
        return config
