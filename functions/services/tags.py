"""Writes for function tags: TagResource and UntagResource, one transaction each."""

from __future__ import annotations

from django.db import transaction

from awsapi.errors import InvalidParameterValue
from functions.models import Function

MAX_TAGS = 50


def tags_add(*, function: Function, tags: dict[str, str]) -> dict[str, str]:
    """Merge ``tags`` into the function's tags; at most 50 in all."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        merged = {**function.tags, **tags}
        if len(merged) > MAX_TAGS:
            raise InvalidParameterValue("Number of tags exceeds resource tag limit.")
        function.tags = merged
        function.save(update_fields=["tags"])
        return merged


def tags_remove(*, function: Function, keys: list[str]) -> dict[str, str]:
    """Remove the given keys; keys the function does not carry are ignored, as AWS does."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        remaining = {k: v for k, v in function.tags.items() if k not in set(keys)}
        function.tags = remaining
        function.save(update_fields=["tags"])
        return remaining


def tags_replace(*, function: Function, tags: dict[str, str]) -> dict[str, str]:
    """Make ``tags`` the function's whole tag set, as TagResource with ``tags`` then
    UntagResource with the keys not among them would, in one transaction."""
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=function.pk)
        removed = [key for key in function.tags if key not in tags]
        result = dict(function.tags)
        if tags:
            result = tags_add(function=function, tags=tags)
        if removed:
            result = tags_remove(function=function, keys=removed)
        return result
