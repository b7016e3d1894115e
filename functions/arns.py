"""Function and layer names, partial ARNs and full ARNs: parsing and building."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

_FUNCTION_RE = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$"
)
_LAYER_RE = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:)?(?P<name>[a-zA-Z0-9-_]{1,140})$"
)
_LAYER_VERSION_RE = re.compile(
    r"^arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]{1,140}):(?P<version>[0-9]+)$"
)


@dataclass(frozen=True)
class FunctionRef:
    """What a ``FunctionName`` parameter names; account/qualifier only when it says so."""

    name: str
    account_id: str | None
    qualifier: str | None


@dataclass(frozen=True)
class LayerRef:
    name: str
    account_id: str | None
    region: str | None = None


@dataclass(frozen=True)
class LayerVersionRef:
    name: str
    account_id: str
    version: int
    region: str | None = None


def region() -> str:
    return str(settings.FUNCTORY_REGION)


def parse_function_name(value: str) -> FunctionRef | None:
    match = _FUNCTION_RE.match(value)
    if match is None:
        return None
    # "name:qualifier" and "account:function:name" overlap only through the regex's
    # optional parts; a bare 12-digit "account" without "function:" is a name.
    return FunctionRef(
        name=match["name"], account_id=match["account"], qualifier=match["qualifier"]
    )


def parse_layer_name(value: str) -> LayerRef | None:
    match = _LAYER_RE.match(value)
    if match is None:
        return None
    return LayerRef(name=match["name"], account_id=match["account"], region=match["region"])


def parse_layer_version_arn(value: str) -> LayerVersionRef | None:
    match = _LAYER_VERSION_RE.match(value)
    if match is None:
        return None
    return LayerVersionRef(
        name=match["name"],
        account_id=match["account"],
        version=int(match["version"]),
        region=match["region"],
    )


def function_arn(account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region()}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(account_id: str, name: str) -> str:
    return f"arn:aws:lambda:{region()}:{account_id}:layer:{name}"


def layer_version_arn(account_id: str, name: str, version: int) -> str:
    return f"{layer_arn(account_id, name)}:{version}"
