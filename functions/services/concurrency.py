"""Writes for reserved concurrency: PutFunctionConcurrency and DeleteFunctionConcurrency."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from awsapi.errors import InvalidParameterValue
from functions.models import Function
from functions.selectors import reserved_concurrency_total
from iam.models import Account

# AWS keeps this much of an account's concurrency unreserved, for unreserved functions.
MIN_UNRESERVED = 100


def concurrency_put(*, function: Function, reserved: int) -> int:
    """Reserve ``reserved`` executions for the function, keeping the account's floor."""
    with transaction.atomic():
        # Lock the account so two reservations cannot both take the last of the pool.
        Account.objects.select_for_update().get(pk=function.account_id)
        function = Function.objects.select_for_update().get(pk=function.pk)
        others = reserved_concurrency_total(function.account, excluding=function)
        unreserved = int(settings.FUNCTORY_ACCOUNT_CONCURRENCY) - others - reserved
        if unreserved < MIN_UNRESERVED:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        provisioned = sum(function.provisioned_configs.values_list("requested", flat=True))
        if reserved < provisioned:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function is less than the "
                f"function's provisioned concurrency [{provisioned}]."
            )
        function.reserved_concurrency = reserved
        function.save(update_fields=["reserved_concurrency"])
        return reserved


def concurrency_delete(*, function: Function) -> None:
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        function.reserved_concurrency = None
        function.save(update_fields=["reserved_concurrency"])
