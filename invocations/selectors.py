"""What an Invoke call runs: the function version(s) a name + qualifier resolve to.

Resolution reads the database and may extract code, so its result is cached per process
for a short time and dropped whenever this process changes a function (see ``apps.py``).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from functions import arns, logging_config, resource_policies
from functions.models import FunctionUrlConfig, FunctionVersion
from functions.selectors import (
    Resolved,
    function_not_found,
    function_resolve,
    unreserved_concurrency,
)
from iam.access import resources
from iam.models import Account
from iam.policy import Policy, Principal, RequestContext
from iam.policy.context import ContextValue
from invocations import codecache
from invocations.executor import catalog, egress
from invocations.executor.spec import EnvironmentSpec
from invocations.models import AsyncInvocation


@dataclass(frozen=True)
class VersionTarget:
    version: str
    spec: EnvironmentSpec


@dataclass(frozen=True)
class InvokeTarget:
    account_id: str
    function_name: str
    invoked_arn: str
    primary: VersionTarget
    # An alias's weighted second version: (target, share of traffic in 0..1).
    secondary: tuple[VersionTarget, float] | None = None
    reserved_concurrency: int | None = None
    # The account's unreserved pool when resolved; ``None`` means the whole account limit.
    unreserved_concurrency: int | None = None

    @property
    def timeout_s(self) -> float:
        """The longest an invocation of this target may run (either routed version)."""
        timeout = self.primary.spec.timeout_s
        if self.secondary is not None:
            timeout = max(timeout, self.secondary[0].spec.timeout_s)
        return float(timeout)

    def choose(self, draw: float | None = None) -> VersionTarget:
        if self.secondary is None:
            return self.primary
        target, weight = self.secondary
        return target if (random.random() if draw is None else draw) < weight else self.primary


def _image_fields(version: FunctionVersion) -> dict[str, Any]:
    """How an image function starts: ImageConfig's members override the image's own."""
    own, config = version.image_settings, version.image_config
    entrypoint = config["EntryPoint"] if "EntryPoint" in config else own.get("Entrypoint", [])
    command = config["Command"] if "Command" in config else own.get("Cmd", [])
    env = [item.partition("=") for item in own.get("Env", [])]
    return {
        "code_dir": "",
        "layers_dir": None,
        # The runtime interface client takes the handler as its argument, as on AWS.
        "handler": command[0] if command else "",
        "image_id": version.image_id,
        "image_command": tuple(str(part) for part in [*entrypoint, *command]),
        "image_workdir": config.get("WorkingDirectory") or own.get("WorkingDir") or "/",
        "image_env": tuple((key, value) for key, _, value in env if key),
        "image_volumes": tuple(sorted(str(path) for path in own.get("Volumes", []))),
    }


def environment_spec(version: FunctionVersion) -> EnvironmentSpec:
    """What environments of ``version`` are made from (their pool key)."""
    function = version.function
    if version.package_type == "Image":
        fields = _image_fields(version)
    else:
        layers = list(version.layers.all())
        fields = {
            "handler": version.handler,
            "code_dir": codecache.code_dir(version.code_id or ""),
            "layers_dir": codecache.layers_dir([layer.code_id for layer in layers]),
        }
    logs = logging_config.effective(version.logging_config, function.name)
    return EnvironmentSpec(
        function_arn=arns.function_arn(function.account_id, function.name),
        function_name=function.name,
        version=version.version,
        runtime=version.runtime,
        memory_mb=version.memory_size,
        timeout_s=version.timeout,
        **fields,
        environment=tuple(sorted(version.environment.items())),
        ephemeral_mb=version.ephemeral_storage,
        log_group=logs.log_group,
        region=arns.region(),
        account_id=function.account_id,
        revision=version.revision_id,
        egress=egress.wanted(version.vpc_config),
        role_arn=version.role,
        log_format=logs.log_format,
        application_log_level=logs.application_level or "",
        system_log_level=logs.system_level or "",
        tracing_mode=version.tracing_mode,
        # Forked from an initialised template: the Python runtimes (templates.py).
        snap_start=version.snap_start_on and version.runtime.startswith("python3."),
    )


def _target(resolved: Resolved) -> InvokeTarget:
    function = resolved.function
    assert resolved.version is not None
    primary = VersionTarget(resolved.version.version, environment_spec(resolved.version))
    secondary = None
    if resolved.alias is not None and resolved.alias.routing_weights:
        ((number, weight),) = resolved.alias.routing_weights.items()
        other = function.versions.filter(number=int(number)).first()
        if other is None:
            raise function_not_found(function.account_id, function.name, number)
        secondary = (VersionTarget(other.version, environment_spec(other)), float(weight))
    return InvokeTarget(
        account_id=function.account_id,
        function_name=function.name,
        invoked_arn=resolved.arn,
        primary=primary,
        secondary=secondary,
        reserved_concurrency=function.reserved_concurrency,
        unreserved_concurrency=unreserved_concurrency(function.account),
    )


class _TargetCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str | None], tuple[float, InvokeTarget]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str | None]) -> InvokeTarget | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[str, str, str | None], target: InvokeTarget) -> None:
        ttl = float(settings.FUNCTORY_CONFIG_CACHE_SECONDS)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, target)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


target_cache = _TargetCache()


def invoke_target_cached(
    account_id: str, function_name: str, qualifier: str | None
) -> InvokeTarget | None:
    return target_cache.get((account_id, function_name, qualifier))


def invoke_target_resolve(
    account: Account, function_name: str, qualifier: str | None
) -> InvokeTarget:
    """Resolve (and cache) what Invoke runs; only ever within ``account``."""
    target = _target(function_resolve(account, function_name, qualifier))
    target_cache.put((account.id, function_name, qualifier), target)
    return target


def async_invocations_for_account(
    account: Account, *, status: str | None = None, function_name: str | None = None
) -> QuerySet[AsyncInvocation]:
    """An account's asynchronous invocations, newest first (never another account's)."""
    rows = AsyncInvocation.objects.filter(account=account).order_by("-created", "-pk")
    if status is not None:
        rows = rows.filter(status=status)
    if function_name is not None:
        rows = rows.filter(function_name=function_name)
    return rows


def async_invocation_counts_for_account(
    account: Account, *, function_name: str | None = None
) -> dict[str, int]:
    """How many of an account's asynchronous invocations are in each status, every status
    listed (zeros included); one grouped query, never another account's rows."""
    rows = AsyncInvocation.objects.filter(account=account)
    if function_name is not None:
        rows = rows.filter(function_name=function_name)
    counts = dict.fromkeys(AsyncInvocation.Status.values, 0)
    # order_by() drops Meta.ordering so the GROUP BY is by status alone.
    for status, number in rows.order_by().values_list("status").annotate(number=Count("pk")):
        counts[status] = number
    return counts


def async_invocation_function_names(account: Account) -> list[str]:
    """The names of the functions an account has invoked asynchronously, sorted."""
    rows = AsyncInvocation.objects.filter(account=account).order_by("function_name")
    return list(rows.values_list("function_name", flat=True).distinct())


def python_versions_installed() -> list[str]:
    """The CPython versions (``"3.12"``) functions can run with on this host, oldest first."""
    return sorted(catalog.python_interpreters(), key=lambda v: tuple(map(int, v.split("."))))


def runtime_availability(runtime: str) -> catalog.Availability:
    """Whether this host can run ``runtime``, and if not why ("no .NET on this host")."""
    return catalog.availability(runtime)


# -- function URLs ------------------------------------------------------------------------

URL_ID = re.compile(r"^[a-z0-9]{32}$")
URL_ACTION = "lambda:InvokeFunctionUrl"
INVOKE_ACTION = "lambda:InvokeFunction"
# The caller of a URL whose AuthType is NONE: whoever sent the request, signed or not.
ANONYMOUS = Principal("anonymous", "", "anonymous")
# The keys of a request itself rather than of its caller (lower case, as a policy's text is
# searched for them): a policy that names none gives one caller the same answer every time.
_REQUEST_KEYS = (
    "aws:sourceip",
    "aws:securetransport",
    "aws:currenttime",
    "aws:epochtime",
    "aws:requestedregion",
)
RequestKeys = Callable[[], Mapping[str, ContextValue]]


@dataclass(frozen=True)
class UrlTarget:
    """What a request to a function URL reaches: the URL's settings and its function, and
    the function's resource policy (parsed once, kept as long as this entry)."""

    url_id: str
    account: Account
    function_name: str
    # None for $LATEST (the unqualified function), else the alias.
    qualifier: str | None
    auth_type: str
    cors: dict[str, Any]
    invoke_mode: str
    policy: Policy | None

    @cached_property
    def function_arn(self) -> str:
        return arns.function_arn(self.account.id, self.function_name, self.qualifier)

    @cached_property
    def asks_request_keys(self) -> bool:
        """Whether the policy mentions a key of the request (``aws:SourceIp``, the time)."""
        text = self.policy.text.lower() if self.policy is not None else ""
        return any(key in text for key in _REQUEST_KEYS)

    @cached_property
    def denies(self) -> bool:
        """Whether the policy has a Deny statement: without one, it refuses nobody of the
        function's own account."""
        return self.policy is not None and any(
            statement.effect == "Deny" for statement in self.policy.statements
        )

    @cached_property
    def open_to_anyone(self) -> bool:
        """The answer for an anonymous caller when the policy asks no request key: decided
        once for this entry, not per request."""
        return _url_policy_allows(self, ANONYMOUS, {})


def _url_policy_allows(
    target: UrlTarget, principal: Principal, keys: Mapping[str, ContextValue]
) -> bool:
    owner = target.account.id
    resource = target.function_arn
    url = RequestContext(
        principal, URL_ACTION, resource, {**keys, "lambda:FunctionUrlAuthType": target.auth_type}
    )
    if not resource_policies.resource_allows(url, target.policy, owner):
        return False
    invoke = RequestContext(
        principal, INVOKE_ACTION, resource, {**keys, "lambda:InvokedViaFunctionUrl": "true"}
    )
    return resource_policies.resource_allows(invoke, target.policy, owner)


def url_access_allowed(target: UrlTarget, principal: Principal, request_keys: RequestKeys) -> bool:
    """Whether the function's resource policy lets ``principal`` call the URL: both
    ``lambda:InvokeFunctionUrl`` (with ``lambda:FunctionUrlAuthType``, the URL's) and
    ``lambda:InvokeFunction`` (with ``lambda:InvokedViaFunctionUrl`` true) must be allowed,
    as AWS requires of URLs since October 2025. ``request_keys`` gives the request's global
    keys (``aws:SourceIp``...), asked only when the policy mentions one. An anonymous caller
    (AuthType NONE) has only the policy to let it in; a signer's own policies are checked by
    ``iam.access``, so here its account's caller is refused only by a Deny, another
    account's needs an Allow naming it."""
    if principal.account == target.account.id and not target.denies:
        return True
    if target.asks_request_keys:
        return _url_policy_allows(target, principal, request_keys())
    if principal is ANONYMOUS:
        return target.open_to_anyone
    return _url_policy_allows(target, principal, {})


class _UrlCache:
    """url id -> (expiry, target or None): misses are cached too, so a flood of requests
    for unknown ids costs one query per id per period, not one per request."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, UrlTarget | None]] = {}
        self._lock = threading.Lock()

    def get(self, url_id: str) -> tuple[float, UrlTarget | None] | None:
        entry = self._entries.get(url_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry

    def put(self, url_id: str, target: UrlTarget | None) -> None:
        ttl = float(settings.FUNCTORY_CONFIG_CACHE_SECONDS)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[url_id] = (time.monotonic() + ttl, target)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


url_cache = _UrlCache()


def url_target_cached(url_id: str) -> tuple[float, UrlTarget | None] | None:
    """The cached answer for ``url_id`` (its second element None: no such URL), or None."""
    return url_cache.get(url_id)


def url_target_resolve(url_id: str) -> UrlTarget | None:
    """The URL with this id and what it reaches, or None (and cache the answer)."""
    target: UrlTarget | None = None
    config = (
        FunctionUrlConfig.objects.select_related("function", "function__account")
        .filter(url_id=url_id)
        .first()
        if URL_ID.match(url_id)
        else None
    )
    if config is not None:
        function = config.function
        qualifier = None if config.qualifier == "$LATEST" else config.qualifier
        policy_arn = arns.function_arn(function.account_id, function.name, qualifier)
        target = UrlTarget(
            url_id=config.url_id,
            account=function.account,
            function_name=function.name,
            qualifier=qualifier,
            auth_type=config.auth_type,
            cors=dict(config.cors or {}),
            invoke_mode=config.invoke_mode,
            policy=resources.cache.get(policy_arn, load=True),
        )
    url_cache.put(url_id, target)
    return target
