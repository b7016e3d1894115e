"""Console: the configuration area (views, JSON endpoints, and its part of the function page)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from functions.models import Function

urlpatterns: list[Any] = []


def context(request: HttpRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    return {}
