"""An operation's parameters as IAM's action map reads them (botocore member names), from
a REST-JSON call: the URL's parts, the query string, the headers and the JSON body, placed
as the operation's model says. Invoke's body is its payload and is never read here."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from awsapi.service_models import service_model


@dataclass(frozen=True)
class _Plan:
    uri: Mapping[str, str]  # normalised URL kwarg -> member
    query: Mapping[str, str]  # query string name -> member
    lists: frozenset[str]  # query string names that repeat (list members)
    headers: Mapping[str, str]  # header -> member
    json_body: bool  # the body's members are the input's (no payload member)


def _normalised(name: str) -> str:
    return name.replace("_", "").lower()


@functools.cache
def _plan(service: str, operation: str) -> _Plan:
    model = service_model(service)
    shape = (
        model.operation_model(operation).input_shape if operation in model.operation_names else None
    )
    if shape is None:
        return _Plan({}, {}, frozenset(), {}, False)
    uri: dict[str, str] = {}
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    lists: set[str] = set()
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        name = member_shape.serialization.get("name", member)
        if location == "uri":
            uri[_normalised(member)] = member
            uri[_normalised(name)] = member
        elif location == "querystring":
            query[name] = member
            if member_shape.type_name == "list":
                lists.add(name)
        elif location == "header":
            headers[name] = member
    payload = shape.serialization.get("payload")
    return _Plan(uri, query, frozenset(lists), headers, payload is None)


def rest_params(
    service: str,
    operation: str,
    http: HttpRequest,
    url_kwargs: Mapping[str, Any],
    body: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """``body()`` gives the parsed JSON body (called only for operations that have one)."""
    plan = _plan(service, operation)
    params: dict[str, Any] = {}
    if plan.json_body and http.method in ("POST", "PUT", "PATCH"):
        # An unparsable body: the operation itself answers it.
        with contextlib.suppress(Exception):
            params.update(body())
    for name, member in plan.query.items():
        if name in plan.lists:
            values = http.GET.getlist(name)
            if values:
                params[member] = values
            continue
        value = http.GET.get(name)
        if value is not None:
            params[member] = value
    for name, member in plan.headers.items():
        value = http.headers.get(name)
        if value is not None:
            params[member] = value
    for kwarg, value in url_kwargs.items():
        uri_member = plan.uri.get(_normalised(kwarg))
        if uri_member is not None:
            params[uri_member] = value
    return params
