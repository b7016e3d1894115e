"""Functions, versions and aliases rendered as the Lambda API's JSON shapes."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

from functions import arns, logging_config, selectors
from functions.models import (
    Alias,
    EventInvokeConfig,
    FunctionLayer,
    FunctionUrlConfig,
    FunctionVersion,
    ProvisionedConcurrencyConfig,
)


def aws_timestamp(value: dt.datetime) -> str:
    """``2019-03-01T12:00:00.000+0000``, the format of ``LastModified``."""
    v = value.astimezone(dt.UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}."
        f"{v.microsecond // 1000:03d}+0000"
    )


# ListFunctions' configurations, rendered once per version and write: keyed by what every
# write of a version changes (selectors.LISTING_KEY_FIELDS), so an entry is never stale;
# the least recently used go first. Entries are shared: never mutated.
_LISTED: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_LISTED_LOCK = threading.Lock()
LISTED_ENTRIES = 20_000


def listed_configurations(page: list[FunctionVersion]) -> list[dict[str, Any]]:
    """``FunctionConfiguration``s of a ListFunctions page (``selectors.function_list``'s
    versions, which carry only what identifies each): rendered before, or read and rendered
    now. A version deleted in between is left out."""
    keys = {v.pk: (v.pk, v.revision_id, v.last_modified) for v in page}
    found: dict[int, dict[str, Any]] = {}
    with _LISTED_LOCK:
        for pk, key in keys.items():
            rendered = _LISTED.get(key)
            if rendered is not None:
                _LISTED.move_to_end(key)
                found[pk] = rendered
    missing = [pk for pk in keys if pk not in found]
    if missing:
        versions = selectors.versions_listed(missing)
        layers = selectors.layers_of(versions)
        made = {v.pk: (v, function_configuration(v, layers=layers[v.pk])) for v in versions}
        with _LISTED_LOCK:
            for pk, (version, rendered) in made.items():
                found[pk] = rendered
                key = (pk, version.revision_id, version.last_modified)
                _LISTED[key] = rendered
            while len(_LISTED) > LISTED_ENTRIES:
                _LISTED.popitem(last=False)
    return [found[v.pk] for v in page if v.pk in found]


def function_configuration(
    version: FunctionVersion,
    *,
    qualifier: str | None = None,
    layers: list[FunctionLayer] | None = None,
) -> dict[str, Any]:
    """The ``FunctionConfiguration`` shape for one version.

    ``$LATEST`` reports the unqualified ARN unless it was asked for by qualifier; published
    versions report their number, and a lookup through an alias reports the alias.
    ``layers`` are the version's when already read (a page of versions), else read here.
    """
    function = version.function
    if qualifier is None and version.number != 0:
        qualifier = version.version
    config: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": arns.function_arn(function.account_id, function.name, qualifier),
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": version.handler,
        "CodeSize": version.code_size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": aws_timestamp(version.last_modified),
        "CodeSha256": version.code_sha256,
        "Version": version.version,
        "TracingConfig": {"Mode": version.tracing_mode},
        "RevisionId": version.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": version.package_type,
        "Architectures": version.architectures or ["x86_64"],
        "EphemeralStorage": {"Size": version.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": version.snap_start,
            # On for the published versions of a function with it, as AWS reports it.
            "OptimizationStatus": "On" if version.snap_start_on else "Off",
        },
        "LoggingConfig": logging_config.effective(version.logging_config, function.name).response(),
    }
    if version.package_type == "Image":
        # The image holds the runtime and the handler (its entrypoint and command).
        del config["Runtime"], config["Handler"]
        if version.image_config:
            config["ImageConfigResponse"] = {"ImageConfig": dict(version.image_config)}
    if version.environment:
        config["Environment"] = {"Variables": dict(version.environment)}
    if version.dead_letter_target_arn:
        config["DeadLetterConfig"] = {"TargetArn": version.dead_letter_target_arn}
    if version.kms_key_arn:
        config["KMSKeyArn"] = version.kms_key_arn
    if version.vpc_config:
        config["VpcConfig"] = dict(version.vpc_config)
    if layers is None:
        layers = selectors.version_layers(version)
    if layers:
        config["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in layers]
    return config


def image_code_location(version: FunctionVersion) -> dict[str, Any]:
    """GetFunction's ``Code`` of an image function: the URI as given and as resolved."""
    return {
        "RepositoryType": "ECR",
        "ImageUri": version.image_uri,
        "ResolvedImageUri": version.resolved_image_uri,
    }


def alias_configuration(alias: Alias) -> dict[str, Any]:
    function = alias.function
    body: dict[str, Any] = {
        "AliasArn": arns.function_arn(function.account_id, function.name, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.routing_weights:
        body["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing_weights)}
    return body


def policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A resource-based policy as GetPolicy returns it (serialized by the caller)."""
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}


def event_invoke_config(config: EventInvokeConfig) -> dict[str, Any]:
    """The ``FunctionEventInvokeConfig`` shape: always qualified, $LATEST included; unset
    settings are left out and an unset destination is an empty object, as AWS answers."""
    function = config.function
    body: dict[str, Any] = {
        # A REST-JSON body timestamp: epoch seconds, to the millisecond as AWS sends it.
        "LastModified": round(config.last_modified.timestamp(), 3),
        "FunctionArn": arns.function_arn(function.account_id, function.name, config.qualifier),
    }
    if config.maximum_retry_attempts is not None:
        body["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age is not None:
        body["MaximumEventAgeInSeconds"] = config.maximum_event_age
    body["DestinationConfig"] = {
        "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
        "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
    }
    return body


def provisioned_config(
    config: ProvisionedConcurrencyConfig, *, listed: bool = False, just_put: bool = False
) -> dict[str, Any]:
    """A provisioned concurrency configuration; in a list, with the alias or version ARN.
    ``LastModified`` is when it was last put, in the form AWS answers it here. Put answers
    nothing allocated yet, as AWS does."""
    allocated = 0 if just_put else min(config.allocated, config.requested)
    body: dict[str, Any] = {}
    if listed:
        function = config.function
        body["FunctionArn"] = arns.function_arn(
            function.account_id, function.name, config.qualifier
        )
    body.update(
        {
            "RequestedProvisionedConcurrentExecutions": config.requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": config.status,
            "LastModified": config.last_modified.astimezone(dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S+0000"
            ),
        }
    )
    if config.status_reason:
        body["StatusReason"] = config.status_reason
    return body


def url_timestamp(value: dt.datetime) -> str:
    """``2021-10-31T12:00:00.123456Z``: function URL times are ISO 8601 strings."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def function_url_config(
    config: FunctionUrlConfig,
    url: str,
    *,
    last_modified: bool = True,
    invoke_mode: bool = True,
) -> dict[str, Any]:
    """The ``FunctionUrlConfig`` shape; ``url`` is the ``FunctionUrl`` the caller reaches.

    Create answers without ``LastModifiedTime``; Create and Update show ``InvokeMode`` only
    when the call set it, Get and List always, as AWS answers.
    """
    function = config.function
    alias = None if config.qualifier == FunctionVersion.LATEST else config.qualifier
    body: dict[str, Any] = {
        "FunctionUrl": url,
        "FunctionArn": arns.function_arn(function.account_id, function.name, alias),
        "AuthType": config.auth_type,
    }
    if config.cors:
        body["Cors"] = dict(config.cors)
    body["CreationTime"] = url_timestamp(config.created)
    if last_modified:
        body["LastModifiedTime"] = url_timestamp(config.last_modified)
    if invoke_mode:
        body["InvokeMode"] = config.invoke_mode
    return body
