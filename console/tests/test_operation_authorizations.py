"""Every operation the platform dispatches has an IAM authorization entry: the test walks
the URL routes (the REST-JSON views and their method routers) and the JSON 1.1 dispatch
tables behind ``/``, so an operation added without an entry fails here."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from console import views as console_views
from functions import arns
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
    assert 'service="monitoring"' in inspect.getsource(cloudwatch.api)
    found |= {("monitoring", operation) for operation in cloudwatch.OPERATIONS}
    return found


def _query_operations() -> set[tuple[str, str]]:
    """The query-protocol services (IAM, STS) ``/`` dispatches by form Action."""
    modules = inspect.getclosurevars(inspect.unwrap(console_views.home)).globals
    services = _nonlocals(modules["iam_api"].dispatch)["services"]
    return {(service, operation) for service, views in services.items() for operation in views}


def test_the_walk_finds_the_operations_of_every_api() -> None:
    """The walk itself works: it sees operations of each served API and version prefix."""
    found = _rest_operations() | _json_rpc_operations() | _query_operations()
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
        ("iam", "CreateUser"),
        ("iam", "SimulatePrincipalPolicy"),
        ("sts", "AssumeRole"),
        ("sts", "GetCallerIdentity"),
    ]:
        assert expected in found
    assert len(found) >= 73 + 67  # 64 IAM and 3 STS operations


def test_every_dispatched_operation_has_an_authorization_entry() -> None:
    found = _rest_operations() | _json_rpc_operations() | _query_operations()
    missing = sorted(
        (service, operation)
        for service, operation in found
        if operation not in authorization.operations(service)
    )
    assert missing == []


# ---- the ARN authorized is the function the API acts on ---------------------------------

FUNCTION_NAMES = [
    ("f", None),
    ("f", "prod"),
    ("f:7", None),
    ("f:$LATEST", None),
    ("f:prod", "prod"),
    ("function:f", None),
    ("111122223333:function:f", None),
    ("111122223333:function:f:prod", None),
    ("444455556666:function:f", "3"),
    ("111122223333:f", None),
    ("111122223333", None),
    ("123456789012:function:123456789012", None),
    ("arn:aws:lambda:us-east-1:111122223333:function:f", None),
    ("arn:aws:lambda:eu-west-1:111122223333:function:f:prod", None),
    ("arn:aws-cn:lambda:cn-north-1:444455556666:function:f", "1"),
    ("us-east-1:111122223333:function:f", None),
    ("arn:aws:lambda:us-east-1:111122223333:f", None),
    ("f_g-h", None),
    ("f.g", None),
    ("f/g", None),
    ("f:", None),
    (":f", None),
    ("f::1", None),
    ("a:b:c", None),
    ("f:prod", "dev"),
    ("f$", None),
    ("", None),
]


@pytest.mark.parametrize(("name", "qualifier"), FUNCTION_NAMES)
def test_the_function_arn_authorized_is_the_one_the_api_resolves(
    name: str, qualifier: str | None
) -> None:
    """Same name, same function: the authorization's ARN and the API's lookup
    (``functions.arns``/``function_ref``) agree on account, name and qualifier, and a name
    the API cannot resolve is one no ARN is made of."""
    scope = authorization.Scope(region=arns.region(), account="111122223333")
    ref = arns.parse_function_name(name)
    conflicting = ref is not None and ref.qualifier and qualifier and ref.qualifier != qualifier
    if ref is None or conflicting:
        with pytest.raises(authorization.UnparsableResource):
            authorization.authorizations(
                "lambda", "Invoke", {"FunctionName": name, "Qualifier": qualifier}, scope
            )
        return
    [invoke] = authorization.authorizations(
        "lambda", "Invoke", {"FunctionName": name, "Qualifier": qualifier}, scope
    )
    expected = arns.function_arn(
        ref.account_id or "111122223333", ref.name, ref.qualifier or qualifier
    )
    assert invoke.resources == (expected,)
