"""The scheduler: fires each enabled scheduled rule once per occurrence, across all hosts.

It runs as a Celery beat task (``triggers.rules.tasks``), where the platform's other
periodic work runs: in the embedded profile the worker ``serve`` supervises runs beat;
in the scaled profile beat runs wherever the operator runs it, and any number of beats may
run, because firing is claimed in the database:

- a rule's ``next_fire_at`` is the occurrence it owes; a firing moves it on with a
  conditional ``UPDATE`` (only the process that saw the current value wins), and
- each firing is a ``ScheduledFiring`` row unique per (rule, occurrence), written in the
  same transaction as the asynchronous invocations of the rule's targets,

so two scheduler processes never fire one occurrence twice, and a process that dies
mid-firing leaves nothing half done (the transaction rolls back and the occurrence stays
owed).

After downtime (or a tick that came late), a rule fires once, for its latest missed
occurrence, and then goes on with its schedule: earlier missed occurrences are dropped,
never replayed as a burst. EventBridge documents no backfill of scheduled rules; it sends
each occurrence at most once, "within that minute", and this is the closest behaviour a
scheduler that was away can have.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from functions import arns
from triggers import schedules
from triggers.models import Rule, ScheduledFiring
from triggers.rules import delivery, metrics, selectors, services

logger = logging.getLogger(__name__)

# Rules fired per tick at most: a backlog is worked off over the next ticks.
BATCH = 500
# Firings are kept this long (the claim itself is the rule's next occurrence; the rows
# guard against a clock set back, and show a rule's recent history).
FIRINGS_KEPT = timedelta(days=7)


def scheduled_event(rule: Rule, occurrence: datetime, event_id: uuid.UUID) -> dict[str, Any]:
    """The event a scheduled rule sends, in AWS's shape."""
    return {
        "version": "0",
        "id": str(event_id),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": delivery.event_time(occurrence),
        "region": arns.region(),
        "resources": [selectors.rule_arn(rule)],
        "detail": {},
    }


def _fire(rule_id: int, owed: datetime, now: datetime) -> ScheduledFiring | None:
    """Fire the rule's latest occurrence in [owed, now] unless another process has."""
    with transaction.atomic():
        rule = Rule.objects.select_related("account").filter(pk=rule_id).first()
        if rule is None or rule.next_fire_at != owed or rule.state == Rule.DISABLED:
            return None
        schedule = services.schedule_of(rule)
        if schedule is None:
            return None
        occurrence = schedules.latest_due(schedule, owed - timedelta(minutes=1), now)
        following = schedule.next_after(occurrence or now)
        # The claim: only the process that still sees ``owed`` moves it on.
        claimed = Rule.objects.filter(pk=rule.pk, next_fire_at=owed).update(next_fire_at=following)
        if not claimed or occurrence is None:
            return None
        try:
            with transaction.atomic():
                firing = ScheduledFiring.objects.create(
                    rule=rule, scheduled_for=occurrence, fired_at=now
                )
        except IntegrityError:
            return None  # fired already (a clock set back): never twice
        outcome = delivery.deliver(
            rule,
            scheduled_event(rule, occurrence, firing.event_id),
            ingestion_time=now,
            targets=list(rule.targets.all()),
        )
        metrics.account_event_matched(rule.account_id)
        firing.delivered = outcome.delivered
        firing.failed = outcome.failed
        firing.save(update_fields=["delivered", "failed"])
        return firing


def schedules_fire(now: datetime | None = None) -> int:
    """One tick: fire every rule whose occurrence is due; returns how many fired."""
    now = now or timezone.now()
    due = list(
        Rule.objects.filter(next_fire_at__lte=now)
        .exclude(state=Rule.DISABLED)
        .order_by("next_fire_at")
        .values_list("pk", "next_fire_at")[:BATCH]
    )
    fired = 0
    for rule_id, owed in due:
        if owed is None:
            continue
        try:
            if _fire(rule_id, owed, now) is not None:
                fired += 1
        except Exception:
            # One broken rule must not stop the others; it stays owed for the next tick.
            logger.exception("Scheduled rule %s could not fire", rule_id)
    return fired


def firings_expire(now: datetime | None = None) -> int:
    """Delete firings older than :data:`FIRINGS_KEPT` (periodic); returns how many."""
    cutoff = (now or timezone.now()) - FIRINGS_KEPT
    deleted, _ = ScheduledFiring.objects.filter(fired_at__lt=cutoff).delete()
    return deleted
