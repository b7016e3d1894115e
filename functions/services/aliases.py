"""Writes for aliases: create, update, delete, with AWS's routing-configuration rules.

Each public function runs in one transaction; a failing call changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from awsapi.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from functions import arns
from functions.models import Alias, Function, FunctionVersion, new_revision_id
from functions.selectors import function_not_found
from functions.services.functions import check_revision
from functions.services.provisioned import provisioned_alias_moved

MAX_ADDITIONAL_VERSIONS = 1


def alias_arn(function: Function, name: str) -> str:
    return arns.function_arn(function.account_id, function.name, name)


def alias_not_found(function: Function, name: str) -> ResourceNotFound:
    """What UpdateAlias and DeleteAlias answer for a missing alias."""
    return ResourceNotFound(f"Alias not found: {alias_arn(function, name)}")


def _check_version_exists(function: Function, version: str) -> None:
    if version == FunctionVersion.LATEST:
        return
    exists = (
        version.isdigit()
        and int(version) > 0
        and function.versions.filter(number=int(version)).exists()
    )
    if not exists:
        raise function_not_found(function.account_id, function.name, version)


def _routing_weights(
    function: Function, primary: str, routing_config: dict[str, Any] | None
) -> dict[str, float]:
    """Validate ``RoutingConfig`` against the primary version; return the weights to store."""
    weights = dict((routing_config or {}).get("AdditionalVersionWeights") or {})
    if not weights:
        return {}
    if len(weights) > MAX_ADDITIONAL_VERSIONS:
        raise InvalidParameterValue(
            "Number of items in AdditionalVersionWeights cannot be greater than "
            f"{MAX_ADDITIONAL_VERSIONS}"
        )
    for version in weights:
        if version == primary:
            raise InvalidParameterValue(
                f"Invalid function version {primary}. Function version {primary} is already "
                "included in routing configuration."
            )
        if primary == FunctionVersion.LATEST:
            raise InvalidParameterValue(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        _check_version_exists(function, version)
    return {str(version): float(weight) for version, weight in weights.items()}


def alias_create(*, function: Function, params: dict[str, Any]) -> Alias:
    """CreateAlias: the primary version must exist, the name must be new."""
    name = params["Name"]
    primary = params["FunctionVersion"]
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        _check_version_exists(function, primary)
        if function.aliases.filter(name=name).exists():
            raise ResourceConflict(f"Alias already exists: {alias_arn(function, name)}")
        weights = _routing_weights(function, primary, params.get("RoutingConfig"))
        try:
            with transaction.atomic():
                return Alias.objects.create(
                    function=function,
                    name=name,
                    function_version=primary,
                    description=params.get("Description") or "",
                    routing_weights=weights,
                )
        except IntegrityError as exc:
            raise ResourceConflict(f"Alias already exists: {alias_arn(function, name)}") from exc


def alias_update(*, function: Function, name: str, params: dict[str, Any]) -> Alias:
    """UpdateAlias: members left out keep their values; RevisionId is honoured."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        alias = function.aliases.select_for_update().filter(name=name).first()
        if alias is None:
            raise alias_not_found(function, name)
        check_revision(params.get("RevisionId"), alias.revision_id)
        primary = params.get("FunctionVersion") or alias.function_version
        _check_version_exists(function, primary)
        if "RoutingConfig" in params and params["RoutingConfig"] is not None:
            routing: dict[str, Any] | None = params["RoutingConfig"]
        else:
            routing = {"AdditionalVersionWeights": alias.routing_weights}
        moved = (primary, _routing_weights(function, primary, routing)) != (
            alias.function_version,
            alias.routing_weights,
        )
        alias.routing_weights = _routing_weights(function, primary, routing)
        alias.function_version = primary
        if moved:
            provisioned_alias_moved(function=function, alias=alias)
        if params.get("Description") is not None:
            alias.description = params["Description"]
        alias.revision_id = new_revision_id()
        alias.save()
        return alias


def alias_delete(*, function: Function, name: str) -> None:
    """DeleteAlias, with the alias's own resource policy, function URL and provisioned
    concurrency."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        alias = function.aliases.filter(name=name).first()
        if alias is None:
            raise alias_not_found(function, name)
        function.statements.filter(qualifier=name).delete()
        function.event_invoke_configs.filter(qualifier=name).delete()
        function.url_configs.filter(qualifier=name).delete()
        function.provisioned_configs.filter(qualifier=name).delete()
        alias.delete()
