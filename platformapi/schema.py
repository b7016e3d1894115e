"""The OpenAPI schema of the platform API (drf-spectacular), and what every operation may
answer besides its success: the error shape of :mod:`platformapi.errors`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "AWS error type or failure name."},
                "message": {"type": "string"},
                "field": {
                    "type": "string",
                    "nullable": True,
                    "description": "The input the error is about, if one is.",
                },
            },
        }
    },
}

# Statuses any operation may answer with the error shape: bad input, not signed in,
# forbidden (CSRF, other account), missing resource, too many requests.
_ANY_OPERATION = {
    "400": "Invalid input.",
    "401": "Not signed in, or the signature is missing.",
    "403": "Refused: a bad signature or CSRF token, or not allowed.",
    "404": "The resource does not exist (or is not the caller's).",
    "429": "Too many requests: see Retry-After.",
}
# ...and those with a request body: one too large, or not JSON.
_WITH_BODY = {
    "409": "The change conflicts with the resource's state.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
}


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = "platformapi.authentication.ConsoleSessionAuthentication"
    name = "consoleSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A console sign-in; unsafe methods also need X-CSRFToken.",
        }


class SigV4Scheme(OpenApiAuthenticationExtension):
    target_class = "platformapi.authentication.SigV4Authentication"
    name = "sigv4"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "AWS Signature Version 4 with an access key, as for the AWS APIs.",
        }


def add_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the ``Error`` component on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            statuses = dict(_ANY_OPERATION)
            if method in ("post", "put", "patch") or "requestBody" in operation:
                statuses |= _WITH_BODY
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                responses.setdefault(status, {"description": description, **error})
    return result


urlpatterns = [
    path(
        "_functory/api/schema",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="platform-api-schema",
    ),
]
