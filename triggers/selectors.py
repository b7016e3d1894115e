"""Permission-checked reads of event source mappings: a mapping is its function's
account's, and every lookup goes through that account."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from awsapi.errors import ResourceNotFound
from functions import pagination
from functions.models import Function
from functions.selectors import function_ref
from iam.models import Account
from triggers.models import EventSourceMapping

# Get, Update and Delete of a UUID that is not the caller's (or nobody's).
MAPPING_MISSING = "The resource you requested does not exist."


def mappings_for_account(account: Account) -> QuerySet[EventSourceMapping]:
    return EventSourceMapping.objects.filter(function__account=account).select_related("function")


def mapping_get_for_account(account: Account, mapping_uuid: str) -> EventSourceMapping:
    """The mapping ``mapping_uuid`` names, in ``account`` only (404 otherwise)."""
    try:
        key = uuid.UUID(mapping_uuid)
    except (ValueError, TypeError, AttributeError):
        raise ResourceNotFound(MAPPING_MISSING) from None
    mapping = mappings_for_account(account).filter(uuid=key).first()
    if mapping is None:
        raise ResourceNotFound(MAPPING_MISSING)
    return mapping


def mapping_get_for_function(function: Function, mapping_uuid: str) -> EventSourceMapping:
    """The mapping ``mapping_uuid`` names if it maps to ``function`` (any qualifier); a
    mapping of another function, or of nobody, is "does not exist" (404)."""
    mapping = mapping_get_for_account(function.account, mapping_uuid)
    if mapping.function_id != function.pk:
        raise ResourceNotFound(MAPPING_MISSING)
    return mapping


def mappings_delivering() -> QuerySet[EventSourceMapping]:
    """Every account's mappings whose records should be delivered now (for pollers)."""
    return EventSourceMapping.objects.filter(
        enabled=True,
        state__in=[
            EventSourceMapping.CREATING,
            EventSourceMapping.ENABLING,
            EventSourceMapping.ENABLED,
            EventSourceMapping.UPDATING,
        ],
    ).select_related("function")


def mappings_of_function(function: Function) -> list[EventSourceMapping]:
    """All mappings of a function, whatever the qualifier (the console's Triggers panel)."""
    return list(function.event_source_mappings.select_related("function").order_by("id"))


def mapping_list(
    account: Account,
    *,
    event_source_arn: str | None,
    function_name: str | None,
    marker: str | None,
    max_items: int,
) -> tuple[list[EventSourceMapping], str | None]:
    """ListEventSourceMappings: a page of the account's mappings in creation order, those
    of one source and/or one function ARN (qualified or not, matched exactly as given)."""
    position = pagination.decode(marker, "event-source-mappings")
    mappings = mappings_for_account(account).order_by("id")
    if event_source_arn:
        mappings = mappings.filter(event_source_arn=event_source_arn)
    if function_name:
        ref, qualifier = function_ref(account, function_name)
        if ref.account_id not in (None, account.id):
            raise ResourceNotFound("Function does not exist")
        function = Function.objects.filter(account=account, name=ref.name).first()
        if function is None:
            raise ResourceNotFound("Function does not exist")
        mappings = mappings.filter(function=function, qualifier=qualifier or "")
    if position is not None:
        mappings = mappings.filter(id__gt=int(position))
    page = list(mappings[: max_items + 1])
    if len(page) <= max_items:
        return page, None
    return page[:max_items], pagination.encode(page[max_items - 1].id, "event-source-mappings")
