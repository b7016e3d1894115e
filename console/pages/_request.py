"""The request the console's pages are given: signed in, so its user is IAM's."""

from __future__ import annotations

from typing import TypeGuard

from django.http import HttpRequest

from iam.models import User


class ConsoleRequest(HttpRequest):
    """A request the console answers only once its caller signed in (``login_required`` or
    the JSON shell checked it first): its ``user`` is IAM's :class:`User`, never anonymous.

    For typing only; Django still passes an ``HttpRequest`` (or its ASGI subclass).
    """

    user: User


def signed_in(request: HttpRequest) -> TypeGuard[ConsoleRequest]:
    """Whether the caller signed in, for a view that answers anonymous callers itself."""
    return bool(request.user.is_authenticated)
