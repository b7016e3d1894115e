"""Metric filters and subscription filters of log groups: their API's rules, and what the
ingest path does with each stored batch.

The ingest path (:func:`batch_evaluate`, called by ``services`` for every stored batch) asks
:func:`group_filters` for a group's filters. They are cached per process for
``FUNCTORY_CONFIG_CACHE_SECONDS`` (the platform's configuration cache, 1 s by default) and
dropped in this process at once when a filter of the group changes here; another process
sees a change within that TTL. A group without filters therefore costs a dict look-up per
batch, and one query per TTL.

Metric filters turn matching events into custom metric datapoints, aggregated per minute
and written with one ``custom_data_store`` call per account per store. Subscription filters
hand their matching events to :data:`delivery_hook`, which the ``triggers`` app installs at
start-up (``monitoring`` sits below ``invocations`` and may not import it): it accepts one
asynchronous invocation of the destination function per stored batch per filter (split to
stay under :data:`MAX_DELIVERY_BYTES`), in the same transaction as the events, so an
accepted batch is delivered at least once by the asynchronous machinery (retries, DLQ).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from awsapi.errors import AWSError
from functions import arns
from functions.selectors import function_resolve, policy_qualifier
from iam.access import resources
from iam.models import Account
from iam.policy import Principal, RequestContext, evaluate
from monitoring import errors, filter_patterns
from monitoring.filter_patterns import FilterPattern
from monitoring.metrics.custom_services import Aggregate, PointKey, SeriesName, custom_data_store
from monitoring.models import LogEvent, LogFilter, LogGroup
from monitoring.selectors import decode_token, encode_token, log_group_get_for_account

logger = logging.getLogger(__name__)

MAX_METRIC_FILTERS = 100
MAX_SUBSCRIPTION_FILTERS = 2
MAX_DIMENSIONS = 3
MAX_DIMENSION_VALUE = 255
# Raw JSON of one delivery's events: base64 of its gzip stays under the 256 KB CloudWatch
# Logs hands Lambda (gzip of incompressible text grows by well under 1%, base64 by 1/3).
MAX_DELIVERY_BYTES = 190_000
# A function subscribed to its own log group writes lines (START/END/REPORT, its prints)
# for every delivery, which would be delivered again, forever. So the lines of an
# invocation that was itself such a delivery (from its START to its REPORT line, its
# request id remembered in the cache for DELIVERY_MEMORY_SECONDS) are not delivered again;
# and as a backstop (a cache that forgot, lines that never say START) such a subscription
# gets at most SELF_DELIVERIES_PER_MINUTE deliveries a minute in a process, the rest of its
# batches being left undelivered (logged).
SELF_DELIVERIES_PER_MINUTE = 10
DELIVERY_MEMORY_SECONDS = 6 * 3600 + 600  # the longest an async event may wait, and more
_DELIVERY_KEY = "functory:logs-delivery:"
LIMIT_EXCEEDED = "Resource limit exceeded."
NO_PERMISSION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)
LOGS_SERVICE = "logs.amazonaws.com"


class LimitExceeded(AWSError):
    code = "LimitExceededException"
    status = 400


# ---- what the ingest path keeps of a group's filters ------------------------------------------


@dataclass(frozen=True)
class MetricRule:
    name: str
    pattern: FilterPattern
    namespace: str
    metric_name: str
    value: str  # a number, or a selector
    default: float | None
    dimensions: tuple[tuple[str, str], ...]  # (dimension name, selector)
    unit: str


@dataclass(frozen=True)
class SubscriptionRule:
    name: str
    pattern: FilterPattern
    destination: str
    own_group: bool  # the destination function writes to this group


@dataclass(frozen=True)
class GroupFilters:
    metrics: tuple[MetricRule, ...] = ()
    subscriptions: tuple[SubscriptionRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.metrics or self.subscriptions)


NO_FILTERS = GroupFilters()
_cache: dict[int, tuple[float, GroupFilters]] = {}
_cache_lock = threading.Lock()


def _function_name(arn: str) -> str:
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else ""


def _compile(group_name: str, rows: Iterable[LogFilter]) -> GroupFilters:
    metrics: list[MetricRule] = []
    subscriptions: list[SubscriptionRule] = []
    for row in rows:
        try:
            pattern = filter_patterns.parse(row.pattern)
        except errors.InvalidParameter:
            continue  # checked when it was put; a later parser change must not stop ingest
        if row.kind == LogFilter.Kind.METRIC:
            for transformation in row.spec.get("metricTransformations", []):
                default = transformation.get("defaultValue")
                metrics.append(
                    MetricRule(
                        name=row.name,
                        pattern=pattern,
                        namespace=transformation["metricNamespace"],
                        metric_name=transformation["metricName"],
                        value=transformation["metricValue"],
                        default=None if default is None else float(default),
                        dimensions=tuple(sorted((transformation.get("dimensions") or {}).items())),
                        unit=transformation.get("unit") or "None",
                    )
                )
        else:
            destination = row.spec["destinationArn"]
            subscriptions.append(
                SubscriptionRule(
                    name=row.name,
                    pattern=pattern,
                    destination=destination,
                    own_group=group_name == f"/aws/lambda/{_function_name(destination)}",
                )
            )
    if not metrics and not subscriptions:
        return NO_FILTERS
    return GroupFilters(tuple(metrics), tuple(subscriptions))


def group_filters(group_id: int, group_name: str) -> GroupFilters:
    """The group's filters, from this process's cache when it is fresh."""
    now = time.monotonic()
    entry = _cache.get(group_id)
    if entry is not None and entry[0] > now:
        return entry[1]
    found = _compile(group_name, LogFilter.objects.filter(group_id=group_id).order_by("name"))
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[group_id] = (now + float(settings.FUNCTORY_CONFIG_CACHE_SECONDS), found)
    return found


def _forget(group_id: int) -> None:
    # After the change commits: a batch stored meanwhile must not cache the old filters
    # for a whole TTL under the new version's name.
    with _cache_lock:
        _cache.pop(group_id, None)
    transaction.on_commit(lambda: _cache.pop(group_id, None))


# ---- evaluation of stored batches -----------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One invocation a subscription filter owes its destination function."""

    account_id: str
    destination_arn: str
    filter_name: str
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


# Installed by the triggers app: accepts the deliveries (asynchronous invocations) inside
# the caller's transaction. None (a process without it) leaves subscriptions undelivered.
delivery_hook: Callable[[Sequence[Delivery]], None] | None = None


@dataclass
class BatchOutcome:
    """What the filters made of one store's batches: datapoints per account, deliveries."""

    points: dict[str, dict[PointKey, Aggregate]] = field(default_factory=lambda: defaultdict(dict))
    deliveries: list[Delivery] = field(default_factory=list)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _add(points: dict[PointKey, Aggregate], key: PointKey, value: float) -> None:
    found = points.get(key)
    if found is None:
        found = points[key] = Aggregate()
    found.add(value)


def _metric_evaluate(
    rule: MetricRule, events: Sequence[LogEvent], points: dict[PointKey, Aggregate]
) -> None:
    constant = None if rule.value.startswith("$") else _number(rule.value)
    matched = False
    for event in events:
        found = rule.pattern.match(event.message)
        if found is None:
            continue
        matched = True
        value = constant if constant is not None else _number(found.value(rule.value))
        if value is None:
            continue  # the event names no number there: CloudWatch publishes nothing
        dimensions: list[tuple[str, str]] = []
        for name, selector in rule.dimensions:
            text = found.value(selector)
            if not text or len(text) > MAX_DIMENSION_VALUE:
                break
            dimensions.append((name, text))
        else:
            series = SeriesName(rule.namespace, rule.metric_name, tuple(dimensions))
            _add(points, (series, rule.unit, event.timestamp // 60_000 * 60), value)
    if not matched and rule.default is not None and events:
        # CloudWatch emits the default value for a batch in which nothing matched.
        series = SeriesName(rule.namespace, rule.metric_name)
        _add(points, (series, rule.unit, events[-1].timestamp // 60_000 * 60), rule.default)


def event_id(event: LogEvent) -> str:
    return f"{event.timestamp:020d}{event.pk:036d}"


def delivery_payloads(
    account_id: str, group: str, stream: str, filter_name: str, events: Sequence[LogEvent]
) -> list[bytes]:
    """The Lambda events (``{"awslogs": {"data": base64(gzip(json))}}``) that carry
    ``events``, as many as keep each one's JSON under :data:`MAX_DELIVERY_BYTES`."""
    head = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
    }
    overhead = len(json.dumps(head)) + 32
    chunks: list[list[dict[str, Any]]] = [[]]
    size = overhead
    for event in events:
        record = {"id": event_id(event), "timestamp": event.timestamp, "message": event.message}
        record_size = len(json.dumps(record)) + 2
        if chunks[-1] and size + record_size > MAX_DELIVERY_BYTES:
            chunks.append([])
            size = overhead
        chunks[-1].append(record)
        size += record_size
    payloads = []
    for chunk in chunks:
        data = gzip.compress(json.dumps({**head, "logEvents": chunk}).encode(), mtime=0)
        payloads.append(json.dumps({"awslogs": {"data": base64.b64encode(data).decode()}}).encode())
    return payloads


_self_deliveries: dict[tuple[int, str], tuple[int, int]] = {}
# (group id, stream) -> request id of the delivery whose lines the stream is writing now.
_delivery_streams: dict[tuple[int, str], str] = {}


def _request_id(message: str, opener: str) -> str | None:
    if not message.startswith(opener):
        return None
    rest = message[len(opener) :].split(None, 1)
    return rest[0] if rest else None


def _not_from_own_deliveries(
    group_id: int, stream: str, events: Sequence[LogEvent]
) -> list[LogEvent]:
    """``events`` less the lines of invocations that were deliveries of a subscription to
    the function writing the group (START through REPORT of such a request id)."""
    key = (group_id, stream)
    current = _delivery_streams.get(key)
    kept: list[LogEvent] = []
    for event in events:
        started = _request_id(event.message, "START RequestId: ")
        if started is not None:
            current = started if cache.get(_DELIVERY_KEY + started) else None
        if current is None:
            kept.append(event)
        elif _request_id(event.message, "REPORT RequestId: ") == current:
            current = None
    if current is None:
        _delivery_streams.pop(key, None)
    else:
        if len(_delivery_streams) > 10_000:
            _delivery_streams.clear()
        _delivery_streams[key] = current
    return kept


# Injectable (tests): the self-subscription budget's clock.
clock: Callable[[], float] = time.monotonic


def _self_delivery_allowed(group_id: int, name: str) -> bool:
    minute = int(clock() // 60)
    key = (group_id, name)
    window, count = _self_deliveries.get(key, (minute, 0))
    if window != minute:
        window, count = minute, 0
    if count >= SELF_DELIVERIES_PER_MINUTE:
        return False
    if len(_self_deliveries) > 10_000:
        _self_deliveries.clear()
    _self_deliveries[key] = (window, count + 1)
    return True


def batch_evaluate(
    outcome: BatchOutcome,
    filters: GroupFilters,
    *,
    account_id: str,
    group_id: int,
    group: str,
    stream: str,
    events: Sequence[LogEvent],
) -> None:
    """Apply a group's filters to one stored batch; the results go into ``outcome``."""
    for rule in filters.metrics:
        _metric_evaluate(rule, events, outcome.points[account_id])
    for subscription in filters.subscriptions:
        candidates = (
            _not_from_own_deliveries(group_id, stream, events) if subscription.own_group else events
        )
        matching = [event for event in candidates if subscription.pattern.matches(event.message)]
        if not matching:
            continue
        if subscription.own_group and not _self_delivery_allowed(group_id, subscription.name):
            logger.warning(
                "subscription filter %r of %s delivers to the function writing that group: "
                "%d events not delivered (over %d deliveries a minute)",
                subscription.name,
                group,
                len(matching),
                SELF_DELIVERIES_PER_MINUTE,
            )
            continue
        deliveries = [
            Delivery(account_id, subscription.destination, subscription.name, payload)
            for payload in delivery_payloads(account_id, group, stream, subscription.name, matching)
        ]
        if subscription.own_group:
            cache.set_many(
                {_DELIVERY_KEY + d.request_id: 1 for d in deliveries},
                timeout=DELIVERY_MEMORY_SECONDS,
            )
        outcome.deliveries.extend(deliveries)


def outcome_apply(outcome: BatchOutcome) -> None:
    """Publish the datapoints and hand over the deliveries, inside the store's transaction.

    A failure here (the account is at its custom-metric series limit, the destination was
    deleted) is logged and never loses the stored events.
    """
    # Anything may fail here (a destination's code that cannot be read, a database error):
    # the savepoint undoes only this part, the events stay stored.
    for account_id, points in outcome.points.items():
        if not points:
            continue
        try:
            with transaction.atomic():
                custom_data_store(account_id, points)
        except Exception:
            logger.exception("metric filters of account %s: datapoints not stored", account_id)
    if outcome.deliveries and delivery_hook is not None:
        try:
            with transaction.atomic():
                delivery_hook(outcome.deliveries)
        except Exception:
            logger.exception("subscription deliveries not accepted")


# ---- the API's writes and reads -----------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def _transformation_check(pattern: FilterPattern, transformation: dict[str, Any]) -> dict[str, Any]:
    value = transformation["metricValue"]
    if value.startswith("$"):
        if not pattern.can_extract(value):
            raise errors.InvalidParameter(
                f"Invalid metric value: {value} is not a field the filter pattern selects."
            )
    elif _number(value) is None:
        raise errors.InvalidParameter(
            "Invalid metric value: must be a number or a selector of a field of the filter "
            "pattern ($.field or $name)."
        )
    dimensions = transformation.get("dimensions") or {}
    if len(dimensions) > MAX_DIMENSIONS:
        raise errors.InvalidParameter(
            f"Invalid metric transformation: at most {MAX_DIMENSIONS} dimensions are allowed."
        )
    if dimensions and transformation.get("defaultValue") is not None:
        raise errors.InvalidParameter(
            "Invalid metric transformation: a metric with dimensions cannot have a default value."
        )
    for name, selector in dimensions.items():
        if not name or not selector.startswith("$") or not pattern.can_extract(selector):
            raise errors.InvalidParameter(
                f"Invalid dimension {name}: {selector} is not a field the filter pattern selects."
            )
    default = transformation.get("defaultValue")
    if default is not None and not math.isfinite(float(default)):
        raise errors.InvalidParameter("Invalid default value: must be a finite number.")
    kept = {
        key: transformation[key]
        for key in ("metricName", "metricNamespace", "metricValue", "defaultValue", "unit")
        if transformation.get(key) is not None
    }
    if dimensions:
        kept["dimensions"] = dict(dimensions)
    return kept


def _filter_put(group: LogGroup, kind: str, name: str, pattern: str, spec: dict[str, Any]) -> None:
    limit = MAX_METRIC_FILTERS if kind == LogFilter.Kind.METRIC else MAX_SUBSCRIPTION_FILTERS
    with transaction.atomic():
        # The group's row lock serialises puts, so the limit holds under concurrency.
        LogGroup.objects.select_for_update().filter(pk=group.pk).first()
        updated = LogFilter.objects.filter(group=group, kind=kind, name=name).update(
            pattern=pattern, spec=spec
        )
        if not updated:
            if LogFilter.objects.filter(group=group, kind=kind).count() >= limit:
                raise LimitExceeded(LIMIT_EXCEEDED)
            try:
                with transaction.atomic():
                    LogFilter.objects.create(
                        group=group, kind=kind, name=name, pattern=pattern, spec=spec,
                        created=_now_ms(),
                    )  # fmt: skip
            except IntegrityError:
                LogFilter.objects.filter(group=group, kind=kind, name=name).update(
                    pattern=pattern, spec=spec
                )
        _forget(group.pk)


def metric_filter_put(
    account: Account,
    group_name: str,
    name: str,
    pattern: str,
    transformations: list[dict[str, Any]],
) -> None:
    parsed = filter_patterns.parse(pattern)
    spec = {"metricTransformations": [_transformation_check(parsed, t) for t in transformations]}
    group = log_group_get_for_account(account, group_name)
    _filter_put(group, LogFilter.Kind.METRIC, name, pattern, spec)


def _filter_delete(account: Account, group_name: str, kind: str, name: str) -> None:
    group = log_group_get_for_account(account, group_name)
    deleted, _ = LogFilter.objects.filter(group=group, kind=kind, name=name).delete()
    if not deleted:
        raise errors.ResourceNotFound("The specified resource does not exist.")
    _forget(group.pk)


def metric_filter_delete(account: Account, group_name: str, name: str) -> None:
    _filter_delete(account, group_name, LogFilter.Kind.METRIC, name)


def subscription_filter_delete(account: Account, group_name: str, name: str) -> None:
    _filter_delete(account, group_name, LogFilter.Kind.SUBSCRIPTION, name)


def logs_may_invoke(account: Account, destination_arn: str, source_arn: str) -> bool:
    """Whether the function ``destination_arn`` names exists in ``account`` and its
    resource-based policy lets CloudWatch Logs (``logs.amazonaws.com``) perform
    ``lambda:InvokeFunction`` on it with ``aws:SourceArn`` the log group's ARN, as AWS
    checks when a subscription filter is put."""
    ref = arns.parse_function_name(destination_arn)
    if ref is None or ref.account_id not in (None, account.id):
        return False
    try:
        resolved = function_resolve(account, ref.name, ref.qualifier)
    except AWSError:
        return False
    function_arn = arns.function_arn(account.id, ref.name, policy_qualifier(resolved) or None)
    context = RequestContext(
        Principal(LOGS_SERVICE, account.id, "service"),
        "lambda:InvokeFunction",
        function_arn,
        {"aws:SourceArn": source_arn, "aws:SourceAccount": account.id},
    )
    policy = resources.policies.get(function_arn, load=True)
    return evaluate(context, (), policy, account.id).allowed


def subscription_filter_put(
    account: Account,
    group_name: str,
    name: str,
    pattern: str,
    destination_arn: str,
    *,
    role_arn: str | None,
    distribution: str | None,
) -> None:
    filter_patterns.parse(pattern)
    group = log_group_get_for_account(account, group_name)
    parts = destination_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
        raise errors.InvalidParameter(
            f"Invalid destinationArn: {destination_arn}. Only Lambda functions of this "
            "account can be subscribed here."
        )
    if parts[4] != account.id or not logs_may_invoke(account, destination_arn, group_arn(group)):
        raise errors.InvalidParameter(NO_PERMISSION)
    spec: dict[str, Any] = {
        "destinationArn": destination_arn,
        "distribution": distribution or "ByLogStream",
    }
    if role_arn:
        spec["roleArn"] = role_arn
    _filter_put(group, LogFilter.Kind.SUBSCRIPTION, name, pattern, spec)


def group_arn(group: LogGroup) -> str:
    return f"arn:aws:logs:{settings.FUNCTORY_REGION}:{group.account_id}:log-group:{group.name}:*"


def metric_filters_list(
    account: Account,
    *,
    group_name: str | None,
    prefix: str | None,
    metric_name: str | None,
    metric_namespace: str | None,
    limit: int,
    token: str | None,
) -> tuple[list[LogFilter], str | None]:
    """DescribeMetricFilters: a page of metric filters, with AWS's parameter pairings."""
    if (metric_name is None) != (metric_namespace is None):
        raise errors.InvalidParameter(
            "If you specify a metric name, you must also specify a metric namespace, and "
            "vice versa."
        )
    if prefix and not group_name:
        raise errors.InvalidParameter(
            "If you specify filterNamePrefix, you must also specify logGroupName."
        )
    metric = None if metric_name is None else (str(metric_name), str(metric_namespace))
    return filters_list(
        account,
        LogFilter.Kind.METRIC,
        group_name=group_name,
        prefix=prefix,
        metric=metric,
        limit=limit,
        token=token,
    )


def filters_list(
    account: Account,
    kind: str,
    *,
    group_name: str | None,
    prefix: str | None,
    metric: tuple[str, str] | None = None,
    limit: int,
    token: str | None,
) -> tuple[list[LogFilter], str | None]:
    """One page of the account's filters of ``kind`` by group and name."""
    rows = LogFilter.objects.filter(group__account=account, kind=kind).select_related("group")
    if group_name is not None:
        rows = rows.filter(group=log_group_get_for_account(account, group_name))
    if prefix:
        rows = rows.filter(name__startswith=prefix)
    position = decode_token(token, f"filters-{kind}")
    if position is not None:
        after_group, after_name = str(position.get("g", "")), str(position.get("n", ""))
        rows = rows.filter(group__name__gt=after_group) | rows.filter(
            group__name=after_group, name__gt=after_name
        )
    found: list[LogFilter] = []
    # Metric name and namespace live in the JSON spec: checked here, the page bounded.
    for row in rows.order_by("group__name", "name").iterator(chunk_size=200):
        if metric is not None and not any(
            (t.get("metricName"), t.get("metricNamespace")) == metric
            for t in row.spec.get("metricTransformations", [])
        ):
            continue
        found.append(row)
        if len(found) > limit:
            break
    next_token = None
    if len(found) > limit:
        found = found[:limit]
        last = found[-1]
        next_token = encode_token({"k": f"filters-{kind}", "g": last.group.name, "n": last.name})
    return found, next_token


def metric_filter_test(pattern: str, messages: list[str]) -> list[dict[str, Any]]:
    """TestMetricFilter: the messages the pattern matches, numbered from 1."""
    parsed = filter_patterns.parse(pattern)
    matches: list[dict[str, Any]] = []
    for number, message in enumerate(messages, 1):
        found = parsed.match(message)
        if found is not None:
            matches.append(
                {
                    "eventNumber": number,
                    "eventMessage": message,
                    "extractedValues": dict(found.extracted_values),
                }
            )
    return matches
