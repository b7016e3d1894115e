"""Permission-checked reads of functions, versions and aliases.

Every lookup of a user-supplied function name goes through :func:`function_resolve`, which
only ever searches the caller's account.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model, Q, QuerySet, Sum

from awsapi.errors import InvalidParameterValue, ResourceNotFound
from awsapi.prepared import PreparedQuery
from functions import arns, pagination
from functions.models import (
    Alias,
    EventInvokeConfig,
    Function,
    FunctionLayer,
    FunctionUrlConfig,
    FunctionVersion,
    LayerVersion,
    PolicyStatement,
    ProvisionedConcurrencyConfig,
    TestEvent,
)
from iam.models import Account, User

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Resolved:
    """A function and, when a qualifier was given, the version or alias it named."""

    function: Function
    qualifier: str | None
    version: FunctionVersion | None
    alias: Alias | None

    @property
    def arn(self) -> str:
        return arns.function_arn(self.function.account_id, self.function.name, self.qualifier)


def function_not_found(
    account_id: str, name: str, qualifier: str | None = None
) -> ResourceNotFound:
    return ResourceNotFound(f"Function not found: {arns.function_arn(account_id, name, qualifier)}")


def function_ref(
    account: Account, function_name: str, qualifier: str | None = None
) -> tuple[arns.FunctionRef, str | None]:
    """Parse a FunctionName parameter and reconcile it with a separate Qualifier."""
    ref = arns.parse_function_name(function_name)
    if ref is None:
        raise function_not_found(account.id, function_name, qualifier)
    if ref.qualifier and qualifier and ref.qualifier != qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return ref, ref.qualifier or qualifier


def _function_in_account(
    account: Account, ref: arns.FunctionRef, qualifier: str | None
) -> Function:
    """The one account-scoped fetch of a function: a name (or ARN) of another account, or
    of no function of this one, is the same not-found."""
    if ref.account_id not in (None, account.id):
        raise function_not_found(ref.account_id or account.id, ref.name, qualifier)
    function = Function.objects.filter(account=account, name=ref.name).first()
    if function is None:
        raise function_not_found(account.id, ref.name, qualifier)
    return function


# Most control-plane calls name a function without a qualifier: compiled once.
_LATEST = PreparedQuery(
    lambda account_id, name: FunctionVersion.objects.select_related("function").filter(
        function__account_id=account_id, function__name=name, number=0
    )[:1],
    kinds=(str, str),
)


def _latest_in_account(account: Account, ref: arns.FunctionRef, qualifier: str | None) -> Resolved:
    """:func:`_function_in_account` and the function's $LATEST in one query (the version
    joined to its function, scoped to ``account`` the same way)."""
    if ref.account_id not in (None, account.id):
        raise function_not_found(ref.account_id or account.id, ref.name, qualifier)
    latest = _LATEST.first(account.id, ref.name)
    if latest is None:
        raise function_not_found(account.id, ref.name, qualifier)
    return Resolved(latest.function, qualifier, latest, None)


def function_get_for_account(account: Account, function_name: str) -> Function:
    """The unqualified function ``function_name`` names, in ``account`` only."""
    ref, qualifier = function_ref(account, function_name)
    return _function_in_account(account, ref, qualifier)


def function_resolve(
    account: Account,
    function_name: str,
    qualifier: str | None = None,
    *,
    follow_alias: bool = True,
) -> Resolved:
    """Resolve name + qualifier to the version it means ($LATEST when unqualified)."""
    ref, qualifier = function_ref(account, function_name, qualifier)
    if qualifier is None or qualifier == FunctionVersion.LATEST:
        return _latest_in_account(account, ref, qualifier)
    function = _function_in_account(account, ref, qualifier)
    if qualifier.isdigit():
        version = function.versions.filter(number=int(qualifier)).first()
        if version is None or version.number == 0:
            raise function_not_found(account.id, ref.name, qualifier)
        return Resolved(function, qualifier, version, None)
    alias = function.aliases.filter(name=qualifier).first()
    if alias is None:
        raise function_not_found(account.id, ref.name, qualifier)
    target = None
    if follow_alias:
        number = (
            0 if alias.function_version == FunctionVersion.LATEST else int(alias.function_version)
        )
        target = function.versions.filter(number=number).first()
    return Resolved(function, qualifier, target, alias)


# Asynchronous-invocation settings (EventInvokeConfig), kept per qualifier.


def event_invoke_qualifier(resolved: Resolved) -> str:
    """Where a configuration is kept: '$LATEST' for unqualified calls."""
    return resolved.qualifier or FunctionVersion.LATEST


def no_event_invoke_config(function: Function, qualifier: str) -> ResourceNotFound:
    arn = arns.function_arn(function.account_id, function.name, qualifier)
    return ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")


def event_invoke_resolve(
    account: Account, function_name: str, qualifier: str | None = None, *, reading: bool
) -> Resolved:
    """:func:`function_resolve` with the EventInvokeConfig operations' not-found texts:
    reads (Get, Delete) say there is no configuration, writes that the function is missing."""
    try:
        return function_resolve(account, function_name, qualifier, follow_alias=False)
    except ResourceNotFound:
        if not reading:
            raise ResourceNotFound("The function doesn't exist.") from None
        ref = arns.parse_function_name(function_name)
        name = ref.name if ref is not None else function_name
        wanted = (ref.qualifier if ref is not None else None) or qualifier
        arn = arns.function_arn(account.id, name, wanted or FunctionVersion.LATEST)
        raise ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig") from None


def event_invoke_config_get(resolved: Resolved) -> EventInvokeConfig:
    qualifier = event_invoke_qualifier(resolved)
    config = resolved.function.event_invoke_configs.filter(qualifier=qualifier).first()
    if config is None:
        raise no_event_invoke_config(resolved.function, qualifier)
    return config


def _qualifier_page(configs: QuerySet[M], after: str | None, limit: int) -> list[M]:
    """Up to ``limit + 1`` per-qualifier configurations ordered by qualifier, after
    ``after`` (a List operation's page and whether another follows)."""
    configs = configs.order_by("qualifier")
    if after is not None:
        configs = configs.filter(qualifier__gt=after)
    return list(configs[: limit + 1])


def event_invoke_configs_page(
    function: Function, after: str | None, limit: int
) -> list[EventInvokeConfig]:
    return _qualifier_page(function.event_invoke_configs.all(), after, limit)


# Provisioned concurrency: kept per published version or alias, never $LATEST.

PROVISIONED_TARGET_TEXT = "The function resource provided must be an alias or a published version."


def provisioned_resolve(account: Account, function_name: str, qualifier: str) -> Resolved:
    """The version or alias a provisioned-concurrency call names, with AWS's texts: a
    missing alias is "Cannot find alias arn", a missing version "Function not found"."""
    ref, wanted = function_ref(account, function_name, qualifier)
    if wanted is None or wanted == FunctionVersion.LATEST:
        raise InvalidParameterValue(PROVISIONED_TARGET_TEXT)
    try:
        resolved = function_resolve(account, function_name, qualifier)
    except ResourceNotFound:
        if wanted.isdigit():
            raise
        arn = arns.function_arn(account.id, ref.name, wanted)
        raise ResourceNotFound(f"Cannot find alias arn: {arn}") from None
    if wanted.isdigit():  # "01" is version 1, kept (and checked for conflicts) as "1"
        return dataclasses.replace(resolved, qualifier=str(int(wanted)))
    return resolved


def provisioned_config_get(resolved: Resolved) -> ProvisionedConcurrencyConfig:
    assert resolved.qualifier is not None
    config = resolved.function.provisioned_configs.filter(qualifier=resolved.qualifier).first()
    if config is None:
        raise ResourceNotFound(
            "No Provisioned Concurrency Config found for this function",
            code="ProvisionedConcurrencyConfigNotFoundException",
        )
    return config


def provisioned_configs_page(
    function: Function, after: str | None, limit: int
) -> list[ProvisionedConcurrencyConfig]:
    return _qualifier_page(function.provisioned_configs.all(), after, limit)


def provisioned_total(account: Account, *, unreserved_only: bool = False) -> int:
    """Provisioned concurrency requested in the account (of functions without reserved
    concurrency only: theirs comes out of the unreserved pool)."""
    configs = ProvisionedConcurrencyConfig.objects.filter(function__account=account)
    if unreserved_only:
        configs = configs.filter(function__reserved_concurrency__isnull=True)
    return int(configs.aggregate(total=Sum("requested"))["total"] or 0)


# Function URLs: one per $LATEST or alias; the texts are AWS's, which differ by operation.

# Create, Update and List name a missing function (or alias) so; Get and Delete say the
# resource (the URL configuration) does not exist, whatever is missing.
FUNCTION_MISSING = "Function does not exist"
RESOURCE_MISSING = "The resource you requested does not exist."


@dataclass(frozen=True)
class UrlTarget:
    """What a function URL call is about: a function, and '$LATEST' or an alias name."""

    function: Function
    qualifier: str

    @property
    def arn(self) -> str:
        """``FunctionArn`` as the URL answers show it: unqualified for $LATEST."""
        alias = None if self.qualifier == FunctionVersion.LATEST else self.qualifier
        return arns.function_arn(self.function.account_id, self.function.name, alias)


def url_target(
    account: Account, function_name: str, qualifier: str | None, *, missing: str
) -> UrlTarget:
    """The function (of ``account`` only) and alias a function URL call names.

    The model has already refused a version number or '$LATEST' as the qualifier, in the
    name or the Qualifier member; ``missing`` is the operation's text for a missing
    function or alias (another account's function is missing too).
    """
    ref, qualifier = function_ref(account, function_name, qualifier)
    try:
        function = _function_in_account(account, ref, qualifier)
    except ResourceNotFound:
        raise ResourceNotFound(missing) from None
    if qualifier is None or qualifier == FunctionVersion.LATEST:
        return UrlTarget(function, FunctionVersion.LATEST)
    if not function.aliases.filter(name=qualifier).exists():
        raise ResourceNotFound(missing)
    return UrlTarget(function, qualifier)


def function_url_config_get(target: UrlTarget) -> FunctionUrlConfig:
    config = target.function.url_configs.filter(qualifier=target.qualifier).first()
    if config is None:
        raise ResourceNotFound(RESOURCE_MISSING)
    return config


def function_url_configs_page(
    function: Function, after: str | None, limit: int
) -> list[FunctionUrlConfig]:
    """Up to ``limit + 1`` URL configurations ordered by qualifier, after ``after``."""
    configs = function.url_configs.select_related("function").order_by("qualifier")
    if after is not None:
        configs = configs.filter(qualifier__gt=after)
    return list(configs[: limit + 1])


# What a listed configuration never shows (kept out of ListFunctions' rows).
_NOT_LISTED = (
    "code",
    "config_digest",
    "image_id",
    "image_settings",
    "image_uri",
    "resolved_image_uri",
    "function__created",
    "function__tags",
    "function__reserved_concurrency",
    "function__last_version_number",
)
# ListFunctions' statements by (all versions, after a marker, page size), compiled once each;
# the least recently used go first, so odd page sizes cannot grow it without bound.
_LISTINGS: OrderedDict[tuple[bool, bool, int], PreparedQuery[FunctionVersion]] = OrderedDict()
# What identifies a version's rendered configuration: every write stamps a new RevisionId
# and LastModified (functions/services/functions.py ``_stamp``).
LISTING_KEY_FIELDS = ("revision_id", "last_modified", "number", "function__name")
_LISTINGS_LOCK = threading.Lock()


def _listing(all_versions: bool, after: bool, limit: int) -> PreparedQuery[FunctionVersion]:
    key = (all_versions, after, limit)
    with _LISTINGS_LOCK:
        listing = _LISTINGS.get(key)
        if listing is not None:
            _LISTINGS.move_to_end(key)
            return listing

    def build(account_id: str, *position: Any) -> Any:
        versions = (
            FunctionVersion.objects.filter(function__account_id=account_id)
            .select_related("function")
            .only(*LISTING_KEY_FIELDS)
        )
        if not all_versions:
            versions = versions.filter(number=0)
        if after:
            name_after, name, number_after = position
            versions = versions.filter(
                Q(function__name__gt=name_after) | Q(function__name=name, number__gt=number_after)
            )
        return versions.order_by("function__name", "number")[:limit]

    listing = PreparedQuery(build, kinds=(str, str, str, int) if after else (str,))
    with _LISTINGS_LOCK:
        _LISTINGS[key] = listing
        while len(_LISTINGS) > 64:
            _LISTINGS.popitem(last=False)
    return listing


def function_list(
    account: Account, *, marker: str | None, max_items: int, all_versions: bool = False
) -> tuple[list[FunctionVersion], str | None]:
    """ListFunctions: a page of the account's $LATEST versions (every version with
    ``all_versions``) by name then number, after ``marker``, and the next page's marker.
    The versions carry only what identifies their configuration (``LISTING_KEY_FIELDS``):
    ``versions_listed`` reads the rest of those not rendered before."""
    position = pagination.decode(marker, "functions")
    listing = _listing(all_versions, position is not None, max_items + 1)
    if position is None:
        page = listing.rows(account.id)
    else:
        name, number = position
        page = listing.rows(account.id, str(name), str(name), int(number))
    if len(page) <= max_items:
        return page, None
    last = page[max_items - 1]
    return page[:max_items], pagination.encode([last.function.name, last.number], "functions")


_LISTED_ONE = PreparedQuery(
    lambda pk: FunctionVersion.objects.filter(pk=pk).select_related("function").defer(*_NOT_LISTED),
    kinds=(int,),
)


def versions_listed(ids: list[int]) -> list[FunctionVersion]:
    """The versions of these ids with what a configuration shows, no more (one is the
    common case: a listing again after a write)."""
    if len(ids) == 1:
        return _LISTED_ONE.rows(ids[0])
    return list(
        FunctionVersion.objects.filter(pk__in=ids).select_related("function").defer(*_NOT_LISTED)
    )


def version_list(
    function: Function, *, marker: str | None, max_items: int
) -> tuple[list[FunctionVersion], str | None]:
    """ListVersionsByFunction: a page of the function's versions by number, after
    ``marker``, and the next page's marker."""
    position = pagination.decode(marker, "versions")
    versions = function.versions.order_by("number")
    if position is not None:
        versions = versions.filter(number__gt=int(position))
    page = list(versions[: max_items + 1])
    if len(page) <= max_items:
        return page, None
    return page[:max_items], pagination.encode(page[max_items - 1].number, "versions")


# A page's layers in one statement compiled once: the page's version ids, padded to this
# many (a longer page, up to ListFunctions' 10,000, has its statement built each time).
_PAGE_LAYERS_IDS = 64
_PAGE_LAYERS = PreparedQuery(
    lambda *version_ids: FunctionLayer.objects.filter(function_version_id__in=version_ids).order_by(
        "function_version_id", "position"
    ),
    kinds=(int,) * _PAGE_LAYERS_IDS,
)


def layers_of(versions: list[FunctionVersion]) -> dict[int, list[FunctionLayer]]:
    """The layers of each of ``versions`` (by version id, in order) in one query, for
    rendering a page of them: Django's prefetch costs more per row than the query itself."""
    found: dict[int, list[FunctionLayer]] = {version.pk: [] for version in versions}
    if not found:
        return found
    ids = list(found)
    if len(ids) <= _PAGE_LAYERS_IDS:
        rows = _PAGE_LAYERS.rows(*ids, *[ids[0]] * (_PAGE_LAYERS_IDS - len(ids)))
    else:
        rows = list(
            FunctionLayer.objects.filter(function_version_id__in=ids).order_by(
                "function_version_id", "position"
            )
        )
    for layer in rows:
        found[layer.function_version_id].append(layer)
    return found


_LAYERS = PreparedQuery(
    lambda version_id: FunctionLayer.objects.filter(function_version_id=version_id).order_by(
        "position"
    ),
    kinds=(int,),
)


def version_layers(version: FunctionVersion) -> list[FunctionLayer]:
    """A version's layers in order (compiled once: every rendered configuration reads them)."""
    return _LAYERS.rows(version.pk)


def latest_version(function: Function) -> FunctionVersion:
    return function.versions.get(number=0)


def event_invoke_settings_latest(function: Function) -> dict[str, Any]:
    """$LATEST's asynchronous-invocation settings in effect (the service's defaults where
    unset) and its dead-letter queue, a version setting AWS's console edits in the same form."""
    config = function.event_invoke_configs.filter(qualifier=FunctionVersion.LATEST).first()
    if config is None:
        # Unsaved: its settings are unset, so the defaults apply.
        config = EventInvokeConfig(function=function, qualifier=FunctionVersion.LATEST)
    return {
        "MaximumEventAgeInSeconds": config.event_age,
        "MaximumRetryAttempts": config.retry_attempts,
        "OnSuccess": config.on_success,
        "OnFailure": config.on_failure,
        "DeadLetterTargetArn": latest_version(function).dead_letter_target_arn,
    }


def function_get_by_arn(account: Account, resource: str) -> Function:
    """The function a tagging ``Resource`` ARN names, in ``account`` only; never qualified."""
    ref = arns.parse_function_name(resource)
    if ref is None or ref.account_id is None:
        raise ResourceNotFound(f"Function not found: {resource}")
    if ref.qualifier is not None:
        raise InvalidParameterValue(
            "Tags on function aliases and versions are not supported. Please specify a "
            "function ARN."
        )
    return function_get_for_account(account, resource)


def alias_get(function: Function, name: str) -> Alias:
    """GetAlias's lookup, with its own not-found wording."""
    alias = function.aliases.filter(name=name).first()
    if alias is None:
        arn = arns.function_arn(function.account_id, function.name, name)
        raise ResourceNotFound(f"Cannot find alias arn: {arn}")
    return alias


def policy_qualifier(resolved: Resolved) -> str:
    """Where a function's policy statements are kept: '' for unqualified and $LATEST."""
    if resolved.qualifier in (None, FunctionVersion.LATEST):
        return ""
    return resolved.qualifier


def policy_target_revision(resolved: Resolved) -> str:
    """The RevisionId a policy call checks and reports: of $LATEST, the version or alias."""
    if resolved.alias is not None:
        return resolved.alias.revision_id
    if resolved.version is not None and policy_qualifier(resolved):
        return resolved.version.revision_id
    return latest_version(resolved.function).revision_id


def policy_statements(resolved: Resolved) -> list[dict[str, Any]]:
    rows = PolicyStatement.objects.filter(
        function=resolved.function, qualifier=policy_qualifier(resolved)
    )
    return [row.statement for row in rows]


def reserved_concurrency_total(account: Account, *, excluding: Function | None = None) -> int:
    functions = Function.objects.filter(account=account)
    if excluding is not None:
        functions = functions.exclude(pk=excluding.pk)
    return int(functions.aggregate(total=Sum("reserved_concurrency"))["total"] or 0)


def unreserved_concurrency(account: Account) -> int:
    limit = int(settings.FUNCTORY_ACCOUNT_CONCURRENCY)
    return max(0, limit - reserved_concurrency_total(account))


def function_count(account: Account) -> int:
    return Function.objects.filter(account=account).count()


def code_storage_used(account: Account) -> int:
    """Bytes of code the account stores: every function version and layer version."""
    functions = FunctionVersion.objects.filter(function__account=account).aggregate(
        total=Sum("code_size")
    )["total"]
    layers = LayerVersion.objects.filter(layer__account=account).aggregate(total=Sum("code_size"))[
        "total"
    ]
    return int(functions or 0) + int(layers or 0)


# Saved test events (console): a user sees their own private events and the shared ones.


def _test_events_visible(user: User, function: Function) -> Any:
    if function.account_id != user.account_id:
        return TestEvent.objects.none()
    return TestEvent.objects.filter(function=function).filter(Q(owner=user) | Q(shared=True))


def test_events_list(user: User, function: Function) -> list[TestEvent]:
    """The test events ``user`` may use on ``function``: their own and the account's shared."""
    return list(_test_events_visible(user, function).select_related("owner"))


def test_event_get_for_user(user: User, function: Function, event_id: int | str) -> TestEvent:
    """One test event ``user`` may see and change (404 otherwise, even if it exists)."""
    try:
        pk = int(event_id)
    except (TypeError, ValueError):
        pk = 0
    event = _test_events_visible(user, function).filter(pk=pk).first()
    if event is None:
        raise ResourceNotFound(f"Test event not found: {event_id}")
    return event
