"""Writes for function URLs: Create/Update/DeleteFunctionUrlConfig.

A function has at most one URL per qualifier ('$LATEST' or an alias). The model's own
constraints (lengths, list sizes, MaxAge, AuthType, the qualifier's pattern) are checked
before these run; here are the rules the model cannot say: what an origin, a method and a
header name are (the URL server copies them into response headers, so nothing else may
pass), and one URL per qualifier. Each public function runs in one transaction.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from functions.models import Function, FunctionUrlConfig
from functions.selectors import RESOURCE_MISSING, UrlTarget

URL_ID_LENGTH = 32
_URL_ID_ALPHABET = string.ascii_lowercase + string.digits
# The methods a function URL's CORS configuration may allow (OPTIONS is the preflight,
# which the platform answers itself).
CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*")
# An origin as browsers send it: scheme, host (a name or a bracketed IPv6 address) and an
# optional port, nothing after; or '*'.
_ORIGIN_RE = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)
# An HTTP field name (RFC 9110 token); anything else could not be sent back as a header.
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def new_url_id() -> str:
    """A URL id as AWS's: 32 random lowercase letters and digits."""
    return "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))


def check_cors(cors: dict[str, Any] | None) -> dict[str, Any]:
    """The ``Cors`` structure to store, refusing values the URL server could not send."""
    if not cors:
        return {}
    for origin in cors.get("AllowOrigins") or []:
        if origin != "*" and _ORIGIN_RE.fullmatch(origin) is None:
            raise InvalidParameterValue(
                f"The origin {origin} is invalid. An origin must be * or a scheme (http or "
                "https) and a host with an optional port, such as https://www.example.com."
            )
    for method in cors.get("AllowMethods") or []:
        if method not in CORS_METHODS:
            raise InvalidParameterValue(
                f"The method {method} is not supported in AllowMethods. Supported values: "
                f"{', '.join(CORS_METHODS)}."
            )
    for member in ("AllowHeaders", "ExposeHeaders"):
        for header in cors.get(member) or []:
            if _HEADER_RE.fullmatch(header) is None:
                raise InvalidParameterValue(
                    f"The header name {header} in {member} is invalid. A header name must be "
                    "a valid HTTP header field name or *."
                )
    return {key: value for key, value in cors.items() if value is not None}


def _conflict(target: UrlTarget) -> ResourceConflict:
    return ResourceConflict(
        f"Failed to create function url config for [functionArn = {target.arn}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function"
    )


def function_url_config_create(*, target: UrlTarget, params: dict[str, Any]) -> FunctionUrlConfig:
    """CreateFunctionUrlConfig: a new URL id; a second URL for the qualifier conflicts."""
    cors = check_cors(params.get("Cors"))
    with transaction.atomic():
        function = Function.objects.select_for_update().get(pk=target.function.pk)
        if function.url_configs.filter(qualifier=target.qualifier).exists():
            raise _conflict(target)
        now = timezone.now()
        for _ in range(3):
            try:
                with transaction.atomic():
                    return FunctionUrlConfig.objects.create(
                        function=function,
                        qualifier=target.qualifier,
                        url_id=new_url_id(),
                        auth_type=params["AuthType"],
                        cors=cors,
                        invoke_mode=params.get("InvokeMode") or FunctionUrlConfig.BUFFERED,
                        created=now,
                        last_modified=now,
                    )
            except IntegrityError:
                # Another call's URL for this qualifier got in first (SQLite takes no row
                # locks), or a URL id was drawn twice (1 in 36**32): draw again.
                if function.url_configs.filter(qualifier=target.qualifier).exists():
                    raise _conflict(target) from None
        raise _conflict(target)


def function_url_config_update(*, target: UrlTarget, params: dict[str, Any]) -> FunctionUrlConfig:
    """UpdateFunctionUrlConfig: members left out keep their values; a given Cors replaces
    the whole structure."""
    cors = check_cors(params.get("Cors")) if params.get("Cors") is not None else None
    with transaction.atomic():
        config = (
            FunctionUrlConfig.objects.select_for_update()
            .filter(function=target.function, qualifier=target.qualifier)
            .first()
        )
        if config is None:
            raise ResourceNotFound(RESOURCE_MISSING)
        if params.get("AuthType") is not None:
            config.auth_type = params["AuthType"]
        if cors is not None:
            config.cors = cors
        if params.get("InvokeMode") is not None:
            config.invoke_mode = params["InvokeMode"]
        config.last_modified = timezone.now()
        config.save()
        return config


def function_url_config_delete(*, target: UrlTarget) -> None:
    deleted, _ = FunctionUrlConfig.objects.filter(
        function=target.function, qualifier=target.qualifier
    ).delete()
    if not deleted:
        raise ResourceNotFound(RESOURCE_MISSING)
