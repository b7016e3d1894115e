"""Console: the function list and the function page's frame (its tabs live elsewhere)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path

from awsapi.errors import ResourceNotFound
from console import permissions
from console.pages import (
    code,
    configuration,
    function_urls,
    monitor,
    testing,
    triggers,
    versions,
)
from console.pages._request import ConsoleRequest
from functions import selectors

TABS = [
    ("code", "Code", code),
    ("test", "Test", testing),
    ("monitor", "Monitor", monitor),
    ("configuration", "Configuration", configuration),
    ("versions", "Versions and aliases", versions),
]


@login_required
def function_detail(request: ConsoleRequest, name: str) -> HttpResponse:
    try:
        function = selectors.function_get_for_account(request.user.account, name)
    except ResourceNotFound as exc:
        raise Http404(exc.message) from exc
    found = permissions.function_controls(request.user, function, monitor.log_group_of(function))
    refused = found[permissions.key(permissions.Action.VIEW_FUNCTION)]
    if refused is not None:
        return permissions.denied_page(request, refused)
    context: dict[str, Any] = {
        "controls": found,
        "controls_json": permissions.as_json(found),
        "function": function,
        "latest": selectors.latest_version(function),
        "tabs": [(key, label) for key, label, _ in TABS],
    }
    for _key, _label, module in TABS:
        context.update(module.context(request, function))
    # The Function URL and Triggers sections (configuration tab) and the overview's triggers.
    context.update(function_urls.context(request, function))
    context.update(triggers.context(request, function))
    return render(request, "console/functions/detail.html", context)


urlpatterns = [
    path("functions/<str:name>/", function_detail, name="function-detail"),
]
