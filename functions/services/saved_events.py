"""Writes for the console's saved test events, with the console's limits.

Each user keeps at most ``MAX_PRIVATE`` private events per function; an account keeps at
most ``MAX_SHARED`` shareable events per function, which every user of the account sees and
may edit. Names follow the console's rule: 1-25 letters, digits, ``.``, ``-`` or ``_``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import IntegrityError, transaction

from awsapi import strictjson
from awsapi.errors import AWSError, InvalidParameterValue
from functions import selectors
from functions.models import Function, TestEvent
from iam.models import User

MAX_PRIVATE = 10
MAX_SHARED = 10
MAX_PAYLOAD_BYTES = 256 * 1024
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,25}$")


class TestEventError(InvalidParameterValue):
    """An invalid test event, tied to the form field at fault."""

    __test__ = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class TestEventLimitExceeded(AWSError):
    __test__ = False
    code = "TestEventLimitExceededException"
    status = 400
    field = "name"


def _clean(name: str, payload: Any) -> tuple[str, Any]:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TestEventError(
            "name",
            "Event name must be 1 to 25 characters: letters, numbers, periods (.), "
            "hyphens (-) and underscores (_).",
        )
    if isinstance(payload, str):
        try:
            payload = strictjson.loads(payload)
        except strictjson.JSONError as exc:
            raise TestEventError("payload", f"Event JSON is not valid: {exc}") from exc
    if len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
        raise TestEventError(
            "payload", f"Event JSON must be at most {MAX_PAYLOAD_BYTES // 1024} KB."
        )
    return name, payload


def _check_room(
    user: User, function: Function, name: str, shared: bool, exclude: int | None
) -> None:
    """Name clashes and limits, checked with the function's row locked."""
    others = selectors.test_events_list(user, function)
    others = [e for e in others if e.pk != exclude]
    if any(e.name == name and (e.shared or e.owner_id == user.pk) for e in others):
        raise TestEventError("name", f"A test event named {name} already exists.")
    if shared and sum(e.shared for e in others) >= MAX_SHARED:
        raise TestEventLimitExceeded(
            f"This function already has {MAX_SHARED} shareable test events; delete one first."
        )
    mine = sum(not e.shared and e.owner_id == user.pk for e in others)
    if not shared and mine >= MAX_PRIVATE:
        raise TestEventLimitExceeded(
            f"You already have {MAX_PRIVATE} private test events for this function; "
            "delete one first."
        )


def test_event_create(
    *, user: User, function: Function, name: str, payload: Any, shared: bool = False
) -> TestEvent:
    name, payload = _clean(name, payload)
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=function.pk).first()
        _check_room(user, function, name, shared, exclude=None)
        return TestEvent.objects.create(
            function=function, owner=user, name=name, payload=payload, shared=bool(shared)
        )


def test_event_update(
    *, user: User, event: TestEvent, name: str, payload: Any, shared: bool
) -> TestEvent:
    """Change an event the user may see (their own, or a shared one)."""
    name, payload = _clean(name, payload)
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=event.function_id).first()
        if event.shared and not shared and event.owner_id != user.pk:
            raise TestEventError(
                "shared", "Only the user who created a shareable event can make it private."
            )
        _check_room(user, event.function, name, shared, exclude=event.pk)
        event.name = name
        event.payload = payload
        event.shared = bool(shared)
        try:
            with transaction.atomic():
                event.save(update_fields=["name", "payload", "shared", "modified"])
        except IntegrityError as exc:
            # Its creator keeps a private event of that name.
            raise TestEventError("name", f"A test event named {name} already exists.") from exc
        return event


def test_event_delete(*, event: TestEvent) -> None:
    event.delete()
