"""Helpers shared by the Lambda API views."""

from __future__ import annotations

from typing import Any

from awsapi.validation import query_params, validate
from iam.authentication import ApiRequest


def api_params(req: ApiRequest, operation: str, body: bool = True, **uri: Any) -> dict[str, Any]:
    """The operation's input members (JSON body, query string, URI), validated per model."""
    params: dict[str, Any] = req.json() if body else {}
    params.update(query_params("lambda", operation, req.query))
    params.update(uri)
    validate("lambda", operation, params)
    return params


def max_items(params: dict[str, Any], default: int = 50) -> int:
    return int(params.get("MaxItems") or default)
