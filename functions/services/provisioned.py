"""Writes for provisioned concurrency: Put/DeleteProvisionedConcurrencyConfig.

A configuration asks the executors to keep that many environments of a published version
(or of the version an alias points to) initialised and ready; ``invocations.provisioning``
does that and records ``allocated`` and ``status``. The texts are AWS's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from awsapi.errors import InvalidParameterValue, ResourceConflict
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig
from functions.selectors import (
    Resolved,
    provisioned_total,
    reserved_concurrency_total,
)
from functions.services.concurrency import MIN_UNRESERVED
from iam.models import Account

UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


def _alias_versions(alias: Alias) -> set[str]:
    return {alias.function_version, *alias.routing_weights}


def _check_conflicts(function: Function, qualifier: str, alias: Alias | None) -> None:
    """A version is provisioned either directly or through an alias, never both."""
    others = {
        config.qualifier
        for config in function.provisioned_configs.exclude(qualifier=qualifier).only("qualifier")
    }
    if alias is not None:
        if others & _alias_versions(alias):
            raise ResourceConflict(
                "Alias can't be used for Provisioned Concurrency configuration on an already "
                "Provisioned version"
            )
        return
    for other in function.aliases.filter(name__in=others):
        if qualifier in _alias_versions(other):
            raise ResourceConflict("Version is pointed by a Provisioned Concurrency alias")


def _check_limits(function: Function, qualifier: str, requested: int) -> None:
    others = sum(
        function.provisioned_configs.exclude(qualifier=qualifier).values_list(
            "requested", flat=True
        )
    )
    if function.reserved_concurrency is not None:
        if function.reserved_concurrency < others + requested:
            raise InvalidParameterValue(
                "Requested Provisioned Concurrency should not be greater than the "
                "reservedConcurrentExecution for function"
            )
    else:
        # Out of the account's unreserved pool, which keeps its floor.
        limit = int(settings.FUNCTORY_ACCOUNT_CONCURRENCY)
        taken = reserved_concurrency_total(function.account) + provisioned_total(
            function.account, unreserved_only=True
        )
        mine = function.provisioned_configs.filter(qualifier=qualifier).first()
        taken -= mine.requested if mine is not None else 0
        if limit - taken - requested < MIN_UNRESERVED:
            raise InvalidParameterValue(
                "Specified ConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
    # This server's own bound: every provisioned environment is a process kept running.
    account_limit = int(settings.FUNCTORY_ACCOUNT_PROVISIONED_CONCURRENCY)
    in_account = provisioned_total(function.account) - sum(
        function.provisioned_configs.filter(qualifier=qualifier).values_list("requested", flat=True)
    )
    if in_account + requested > account_limit:
        raise InvalidParameterValue(
            "Requested Provisioned Concurrency exceeds the provisioned concurrency this "
            f"server allows an account [{account_limit}]."
        )


def provisioned_config_put(*, resolved: Resolved, requested: int) -> ProvisionedConcurrencyConfig:
    """PutProvisionedConcurrencyConfig: ask for ``requested`` ready environments."""
    qualifier = resolved.qualifier
    assert qualifier is not None and qualifier != FunctionVersion.LATEST
    alias = resolved.alias
    if alias is not None and alias.function_version == FunctionVersion.LATEST:
        raise InvalidParameterValue(UNPUBLISHED)
    with transaction.atomic():
        # The account, then the function: two configurations cannot both take the last of
        # a pool, and a version and its alias cannot both become provisioned.
        Account.objects.select_for_update().get(pk=resolved.function.account_id)
        function = Function.objects.select_for_update().get(pk=resolved.function.pk)
        if alias is not None:
            alias = function.aliases.get(pk=alias.pk)
        _check_conflicts(function, qualifier, alias)
        _check_limits(function, qualifier, requested)
        config, created = ProvisionedConcurrencyConfig.objects.get_or_create(
            function=function,
            qualifier=qualifier,
            defaults={"requested": requested, "last_modified": timezone.now()},
        )
        if not created:
            config.requested = requested
            config.status = ProvisionedConcurrencyConfig.IN_PROGRESS
            config.status_reason = ""
            config.last_modified = timezone.now()
            config.save(update_fields=["requested", "status", "status_reason", "last_modified"])
        return config


def provisioned_alias_moved(*, function: Function, alias: Alias) -> None:
    """UpdateAlias moved a provisioned alias (in its transaction, the function locked): it
    must still point to a published version no other configuration provisions, and its
    configuration starts over for the version it points to now."""
    config = function.provisioned_configs.filter(qualifier=alias.name).first()
    if config is None:
        return
    if alias.function_version == FunctionVersion.LATEST:
        raise InvalidParameterValue(UNPUBLISHED)
    _check_conflicts(function, alias.name, alias)
    config.status = ProvisionedConcurrencyConfig.IN_PROGRESS
    config.status_reason = ""
    config.allocated = 0
    config.last_modified = timezone.now()
    config.save(update_fields=["status", "status_reason", "allocated", "last_modified"])


def provisioned_config_delete(*, resolved: Resolved) -> None:
    """DeleteProvisionedConcurrencyConfig: deleting one that is not there is no error."""
    with transaction.atomic():
        ProvisionedConcurrencyConfig.objects.filter(
            function=resolved.function, qualifier=resolved.qualifier
        ).delete()
