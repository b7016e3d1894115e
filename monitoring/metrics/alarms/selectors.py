"""Reading alarms and their history, one account at a time, in CloudWatch's orders (alarms
by name; history newest first unless asked otherwise)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from monitoring.metrics.alarms.models import AlarmHistory, MetricAlarm

ACTION_MEMBERS = ("OKActions", "AlarmActions", "InsufficientDataActions")


def alarms_list(
    account_id: str,
    *,
    names: Sequence[str] = (),
    prefix: str | None = None,
    state: str | None = None,
    action_prefix: str | None = None,
) -> list[MetricAlarm]:
    rows: QuerySet[MetricAlarm] = MetricAlarm.objects.filter(account_id=account_id)
    if names:
        rows = rows.filter(name__in=list(names))
    if prefix is not None:
        rows = rows.filter(name__startswith=prefix)
    if state is not None:
        rows = rows.filter(state=state)
    found = list(rows.order_by("name"))
    if action_prefix is not None:
        found = [
            alarm
            for alarm in found
            if any(
                arn.startswith(action_prefix)
                for member in ACTION_MEMBERS
                for arn in alarm.config.get(member, [])
            )
        ]
    return found


def alarms_for_metric(account_id: str, namespace: str, metric_name: str) -> list[MetricAlarm]:
    return list(
        MetricAlarm.objects.filter(
            account_id=account_id, namespace=namespace, metric_name=metric_name
        ).order_by("name")
    )


def alarm_tags(account_id: str, name: str) -> dict[str, str] | None:
    """An alarm's tags (``iam.access``'s loader for ``arn:...:cloudwatch:...:alarm:NAME``)."""
    tags = MetricAlarm.objects.filter(account_id=account_id, name=name).values_list(
        "tags", flat=True
    )
    found = tags.first()
    return dict(found) if found is not None else None


def alarm_get(account_id: str, name: str) -> MetricAlarm | None:
    return MetricAlarm.objects.filter(account_id=account_id, name=name).first()


def history_list(
    account_id: str,
    *,
    name: str | None = None,
    item_type: str | None = None,
    start: float | None = None,
    end: float | None = None,
    ascending: bool = False,
) -> QuerySet[AlarmHistory]:
    rows: QuerySet[AlarmHistory] = AlarmHistory.objects.filter(account_id=account_id)
    if name is not None:
        rows = rows.filter(alarm_name=name)
    if item_type is not None:
        rows = rows.filter(item_type=item_type)
    if start is not None:
        rows = rows.filter(timestamp__gte=start)
    if end is not None:
        rows = rows.filter(timestamp__lte=end)
    order = ("timestamp", "pk") if ascending else ("-timestamp", "-pk")
    return rows.order_by(*order)
