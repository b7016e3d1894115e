"""Console: the versions and aliases tab and the JSON endpoints its script calls: publish a
version, create, update and delete aliases (with a weighted second version)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from console.consoleapi import FieldError, console_json, request_json
from console.pages._forms import account_of, checked, fields, function_for
from console.pages._request import ConsoleRequest
from functions import arns, render, selectors
from functions.models import Function
from functions.services import aliases as alias_services
from functions.services import functions as function_services

_ALIAS_TEXTS = {
    "routing configuration": "routingConfig",
    "more than 1 version": "routingConfig",
    "AdditionalVersionWeights": "routingConfig",
    "Function not found": "functionVersion",
    "Alias already exists": "name",
}


@console_json
@require_POST
def publish(request: ConsoleRequest, name: str) -> dict[str, Any]:
    function = function_for(request, name)
    data = request_json(request)
    params: dict[str, Any] = {}
    if data.get("Description"):
        params["Description"] = data["Description"]
    with fields("publish"):
        params = checked("PublishVersion", params, FunctionName=function.name)
        resolved = selectors.function_resolve(account_of(request), function.name)
        version = function_services.version_publish(resolved=resolved, params=params)
    return render.function_configuration(version, qualifier=version.version)


def _routing(data: dict[str, Any]) -> dict[str, Any] | None:
    """``RoutingConfig`` from the form: a second version and its weight in percent."""
    extra = str(data.get("AdditionalVersion") or "")
    if not extra:
        return {"AdditionalVersionWeights": {}}
    percent = data.get("AdditionalWeight")
    if not isinstance(percent, int | float) or isinstance(percent, bool) or not 0 <= percent <= 100:
        raise FieldError("routingConfig", "The weight must be a percentage from 0 to 100.")
    return {"AdditionalVersionWeights": {extra: round(float(percent) / 100, 4)}}


def _alias_params(data: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionVersion": str(data.get("FunctionVersion") or ""),
        "Description": str(data.get("Description") or ""),
        "RoutingConfig": _routing(data),
    }
    return params


@console_json
@require_POST
def alias_create(request: ConsoleRequest, name: str) -> dict[str, Any]:
    function = function_for(request, name)
    data = request_json(request)
    with fields("alias", _ALIAS_TEXTS):
        params = checked(
            "CreateAlias",
            {"Name": str(data.get("Name") or ""), **_alias_params(data)},
            FunctionName=function.name,
        )
        alias = alias_services.alias_create(function=function, params=params)
    return render.alias_configuration(alias)


@console_json
@require_http_methods(["POST", "DELETE"])
def alias_detail(request: ConsoleRequest, name: str, alias: str) -> dict[str, Any] | None:
    function = function_for(request, name)
    if request.method == "DELETE":
        with fields("alias"):
            checked("DeleteAlias", {}, FunctionName=function.name, Name=alias)
            alias_services.alias_delete(function=function, name=alias)
        return None
    data = request_json(request)
    with fields("alias", _ALIAS_TEXTS):
        params = checked("UpdateAlias", _alias_params(data), FunctionName=function.name, Name=alias)
        updated = alias_services.alias_update(function=function, name=alias, params=params)
    return render.alias_configuration(updated)


urlpatterns: list[Any] = [
    path("functions/<str:name>/versions/publish", publish, name="versions-publish"),
    path("functions/<str:name>/aliases", alias_create, name="aliases-create"),
    path("functions/<str:name>/aliases/<str:alias>", alias_detail, name="aliases-detail"),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for the versions and aliases tab."""
    versions = list(function.versions.exclude(number=0).order_by("-number"))
    aliases = [
        {
            "name": alias.name,
            "arn": arns.function_arn(function.account_id, function.name, alias.name),
            "version": alias.function_version,
            "description": alias.description,
            "additional": next(iter(alias.routing_weights.items()), None),
        }
        for alias in function.aliases.order_by("name")
    ]
    for alias_row in aliases:
        extra = alias_row["additional"]
        alias_row["additional"] = (
            {"version": extra[0], "percent": round(float(extra[1]) * 100, 2)} if extra else None
        )
    return {
        "versions_tab": {
            "versions": versions,
            "aliases": aliases,
            "choices": ["$LATEST", *[v.version for v in versions]],
        }
    }
