"""Every operation the platform dispatches has an IAM authorization entry: the test walks
the URL routes (the REST-JSON views and their method routers) and the JSON 1.1 dispatch
tables behind ``/``, so an operation added without an entry fails here."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from console import views as console_views
from iam import authorization


def _callbacks(patterns: list[Any]) -> Iterator[Any]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _callbacks(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern.callback


def _nonlocals(function: Any) -> dict[str, Any]:
    return dict(inspect.getclosurevars(inspect.unwrap(function)).nonlocals)


def _service(view: Any) -> str:
    """The service the API wrapper (under csrf_exempt, over the view) signs for."""
    layer = view
    while layer is not None:
        service = _closure(layer).get("service")
        if isinstance(service, str):
            return service
        layer = getattr(layer, "__wrapped__", None)
    raise AssertionError(f"{view!r} is not wrapped by an API shell")


def _closure(function: Any) -> dict[str, Any]:
    return dict(inspect.getclosurevars(function).nonlocals)


def _api_views(views: Any) -> Iterator[Any]:
    """The API views among ``views``, and those a plain routing function picks between
    (``GET /2018-10-31/layers`` is ListLayers or GetLayerVersionByArn)."""
    for view in views:
        if hasattr(view, "operation"):
            yield view
        elif inspect.isfunction(inspect.unwrap(view)):
            named = inspect.getclosurevars(inspect.unwrap(view)).globals.values()
            yield from (value for value in named if hasattr(value, "operation"))


def _rest_operations() -> set[tuple[str, str]]:
    """(service, operation) of every REST-JSON view: the wrapper made by
    ``rest_json_api[_async]`` carries its operation and closes over its service."""
    found: set[tuple[str, str]] = set()
    for callback in _callbacks(get_resolver().url_patterns):
        routed = _nonlocals(callback).get("views")
        views = routed.values() if isinstance(routed, dict) else [callback]
        for view in _api_views(views):
            found.add((_service(view), view.operation))
    return found


def _json_rpc_operations() -> set[tuple[str, str]]:
    """The JSON 1.1 services ``/`` dispatches by X-Amz-Target (console.views.home)."""
    found: set[tuple[str, str]] = set()
    modules = inspect.getclosurevars(inspect.unwrap(console_views.home)).globals
    for name in ("logs_api", "events_api"):
        closure = _nonlocals(modules[name].dispatch)
        found |= {(closure["service"], operation) for operation in closure["operations"]}
    cloudwatch = modules["cloudwatch"]
    # CloudWatch's dispatcher checks signatures scoped to "monitoring", its endpoint prefix.
    assert 'service="monitoring"' in inspect.getsource(cloudwatch.dispatch)
    found |= {("monitoring", operation) for operation in cloudwatch.OPERATIONS}
    return found


def test_the_walk_finds_the_operations_of_every_api() -> None:
    """The walk itself works: it sees operations of each served API and version prefix."""
    found = _rest_operations() | _json_rpc_operations()
    for expected in [
        ("lambda", "Invoke"),
        ("lambda", "InvokeAsync"),
        ("lambda", "InvokeWithResponseStream"),
        ("lambda", "CreateFunction"),
        ("lambda", "PublishLayerVersion"),
        ("lambda", "ListLayers"),
        ("lambda", "GetLayerVersionByArn"),
        ("lambda", "TagResource"),
        ("lambda", "GetFunctionConcurrency"),
        ("lambda", "GetAccountSettings"),
        ("lambda", "PutFunctionEventInvokeConfig"),
        ("lambda", "CreateFunctionUrlConfig"),
        ("lambda", "CreateEventSourceMapping"),
        ("logs", "FilterLogEvents"),
        ("monitoring", "GetMetricStatistics"),
        ("events", "PutEvents"),
    ]:
        assert expected in found
    assert len(found) >= 73


def test_every_dispatched_operation_has_an_authorization_entry() -> None:
    found = _rest_operations() | _json_rpc_operations()
    missing = sorted(
        (service, operation)
        for service, operation in found
        if operation not in authorization.operations(service)
    )
    assert missing == []
