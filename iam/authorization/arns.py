"""The resource ARNs IAM evaluates, built from what a request names.

A request names a resource by name, partial ARN or full ARN; IAM always sees the full ARN.
A name (or partial ARN) is completed with the caller's account; an ARN keeps its account, so
a call naming another account's function is evaluated against that account's ARN
(cross-account access is decided by that function's resource policy). A function's region
and partition are always the platform's: the API resolves a function ARN of any region to
the function here, so the ARN evaluated must be that one (else a Deny on the real ARN could
be stepped around by writing another region into FunctionName).

:class:`UnparsableResource` is raised only where the operation itself cannot resolve what
the request names; the caller answers such a request as the operation would (validation
error or not-found) and never runs it unauthorized.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"


class UnparsableResource(ValueError):
    """A request named a resource no ARN can be built from; the operation itself answers
    it (as AWS does: a not-found or validation error, not an access denial)."""


@dataclass(frozen=True)
class Scope:
    """Where the call is evaluated: the caller's region and account."""

    region: str
    account: str
    partition: str = PARTITION


# FunctionName: "name", "name:qualifier", "account:function:name[:qualifier]",
# "arn:aws:lambda:region:account:function:name[:qualifier]" (the Lambda API's forms).
_FUNCTION = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:)?"
    r"(?:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)
_LAYER = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:)?(?P<name>[a-zA-Z0-9_-]{1,140})$"
)
_LAYER_VERSION = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9_-]{1,140}):(?P<version>[0-9]+)$"
)
_LOG_GROUP_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"log-group:(?P<name>[^:*]+)(?::\*)?$"
)
_EVENT_BUS_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"event-bus/(?P<name>[^/]+)$"
)
# Names in an ARN are bounded by the APIs (FunctionName 170, a log group 512, a rule 64
# characters); this only stops a hostile parameter from costing a regex megabytes.
_MAX_NAME = 2048


@dataclass(frozen=True)
class FunctionTarget:
    """A function as a request names it, completed to its full ARN parts."""

    partition: str
    region: str
    account: str
    name: str
    qualifier: str | None

    @property
    def unqualified_arn(self) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def arn(self) -> str:
        """The version or alias ARN when a qualifier was given, else the function's."""
        base = self.unqualified_arn
        return f"{base}:{self.qualifier}" if self.qualifier else base


def _bounded(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME:
        raise UnparsableResource(f"{what} is missing or not a valid name")
    return value


bounded_name = _bounded  # a request's name or ARN, bounded (for the other rules' modules)


def function_target(
    scope: Scope, function_name: object, qualifier: object = None
) -> FunctionTarget:
    """The function ``function_name`` names, with the qualifier from the name or from a
    separate ``Qualifier`` parameter (both given and different: the API refuses it, so no
    ARN is made that could authorize one and run the other)."""
    match = _FUNCTION.match(_bounded(function_name, "FunctionName"))
    if match is None:
        raise UnparsableResource(f"FunctionName {function_name!r} names no function")
    if qualifier is not None and not isinstance(qualifier, str):
        raise UnparsableResource("Qualifier is not a string")
    derived = match["qualifier"]
    if derived and qualifier and derived != qualifier:
        raise UnparsableResource(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionTarget(
        partition=scope.partition,
        region=scope.region,
        account=match["account"] or scope.account,
        name=match["name"],
        qualifier=derived or qualifier or None,
    )


def layer_arn(scope: Scope, layer_name: object) -> str:
    """A layer's ARN from a ``LayerName`` parameter (a name or a layer ARN)."""
    match = _LAYER.match(_bounded(layer_name, "LayerName"))
    if match is None:
        raise UnparsableResource(f"LayerName {layer_name!r} names no layer")
    partition = match["partition"] or scope.partition
    region = match["region"] or scope.region
    account = match["account"] or scope.account
    return f"arn:{partition}:lambda:{region}:{account}:layer:{match['name']}"


def layer_version_arn(scope: Scope, layer_name: object, version: object) -> str:
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise UnparsableResource("VersionNumber is not a number")
    if not str(version).isdigit():
        raise UnparsableResource(f"VersionNumber {version!r} is not a number")
    return f"{layer_arn(scope, layer_name)}:{int(version)}"


def layer_version_arn_parsed(value: object) -> str:
    """A full layer version ARN (``GetLayerVersionByArn``'s ``Arn``), as given."""
    if _LAYER_VERSION.match(_bounded(value, "Arn")) is None:
        raise UnparsableResource(f"Arn {value!r} is not a layer version ARN")
    assert isinstance(value, str)
    return value


def event_source_mapping_arn(scope: Scope, uuid: object) -> str:
    uuid = _bounded(uuid, "UUID")
    if "/" in uuid or ":" in uuid:
        raise UnparsableResource(f"UUID {uuid!r} is not an event source mapping id")
    prefix = f"arn:{scope.partition}:lambda:{scope.region}:{scope.account}"
    return f"{prefix}:event-source-mapping:{uuid}"


def _log_group(scope: Scope, name: object) -> tuple[str, str]:
    """(ARN prefix up to 'log-group:', group name) from a name or a log group ARN
    (``logGroupIdentifier`` accepts both; an ARN may end in ':*')."""
    value = _bounded(name, "logGroupName")
    match = _LOG_GROUP_ARN.match(value)
    if match is not None:
        # The account is the ARN's; the region is the platform's, as for functions (the
        # Logs API resolves a group ARN of any region to the group here).
        prefix = f"arn:{scope.partition}:logs:{scope.region}:{match['account']}:log-group:"
        return prefix, match["name"]
    if value.startswith("arn:") or ":" in value or "*" in value:
        # CloudWatch Logs refuses ':' and '*' in names; letting one through would make
        # "app:log-stream:x" a group whose ARN a policy on "log-group:app:*" matches.
        raise UnparsableResource(f"{value!r} is not a log group name or ARN")
    return f"arn:{scope.partition}:logs:{scope.region}:{scope.account}:log-group:", value


def log_group_arn(scope: Scope, name: object) -> str:
    """What CloudWatch Logs evaluates for an action on a log group: the group's ARN with
    an empty stream, ``…:log-group:NAME:log-stream:`` (AWS's denial messages name this
    form, so a policy on ``…:log-group:NAME:*`` matches it and one on the bare group ARN
    does not, as on AWS)."""
    prefix, group = _log_group(scope, name)
    return f"{prefix}{group}:log-stream:"


def log_stream_arn(scope: Scope, group: object, stream: object) -> str:
    prefix, group_name = _log_group(scope, group)
    stream_name = _bounded(stream, "logStreamName")
    if ":" in stream_name or "*" in stream_name:
        raise UnparsableResource(f"{stream_name!r} is not a log stream name")
    return f"{prefix}{group_name}:log-stream:{stream_name}"


def any_log_group_arn(scope: Scope) -> str:
    """DescribeLogGroups names no group: AWS evaluates ``…:log-group::log-stream:``."""
    return f"arn:{scope.partition}:logs:{scope.region}:{scope.account}:log-group::log-stream:"


@dataclass(frozen=True)
class EventBus:
    partition: str
    region: str
    account: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:events:{self.region}:{self.account}:event-bus/{self.name}"

    def rule_arn(self, rule: str) -> str:
        """``rule/NAME`` on the default bus, ``rule/BUS/NAME`` on any other."""
        path = rule if self.name == "default" else f"{self.name}/{rule}"
        return f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{path}"


def event_bus(scope: Scope, name: object) -> EventBus:
    """The bus an ``EventBusName`` parameter names (absent: the account's default bus)."""
    if name is None or name == "":
        return EventBus(scope.partition, scope.region, scope.account, "default")
    value = _bounded(name, "EventBusName")
    match = _EVENT_BUS_ARN.match(value)
    if match is not None:
        return EventBus(match["partition"], match["region"], match["account"], match["name"])
    if value.startswith("arn:") or "/" in value:
        raise UnparsableResource(f"EventBusName {value!r} names no event bus")
    return EventBus(scope.partition, scope.region, scope.account, value)


def rule_arn(scope: Scope, rule: object, bus_name: object = None) -> str:
    name = _bounded(rule, "Name")
    if "/" in name or ":" in name:
        raise UnparsableResource(f"rule name {name!r} is not valid")
    return event_bus(scope, bus_name).rule_arn(name)


def role_arn(value: object) -> str:
    """An IAM role ARN as the request gives it (CreateFunction's Role, AssumeRole's
    RoleArn): IAM evaluates iam:PassRole / sts:AssumeRole on exactly that ARN."""
    value = _bounded(value, "Role")
    if not re.match(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/", value):
        raise UnparsableResource(f"{value!r} is not a role ARN")
    return value
