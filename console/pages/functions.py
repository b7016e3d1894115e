"""Console: the function list and the function page's frame (its tabs live elsewhere)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

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
from console.permissions import Action, require
from functions import selectors
from functions.services import functions as function_services
from platformapi.views import SignedInRequest

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
        "delete_api": reverse("console-function-delete", args=[function.name]),
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


class FunctionDeleteView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest, name: str) -> Response:
        """Delete the function, its versions and aliases (DeleteFunction)."""
        account = request.user.account
        function = selectors.function_get_for_account(account, name)
        require(request, Action.DELETE_FUNCTION, FunctionName=function.name)
        resolved = selectors.function_resolve(account, function.name, follow_alias=False)
        function_services.function_delete(resolved=resolved)
        return Response(status=204)


urlpatterns = [
    path("functions/<str:name>/", function_detail, name="function-detail"),
    path(
        "_console/functions/<str:name>",
        FunctionDeleteView.as_view(),
        name="console-function-delete",
    ),
]
