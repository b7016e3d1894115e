"""What rules report to the metrics: EventBridge's rule metrics in namespace ``AWS/Events``,
under the ``RuleName`` dimension and for the account's rules together (no dimension)."""

from __future__ import annotations

from monitoring.metrics.recorder import recorder
from triggers.models import Rule

NAMESPACE = "AWS/Events"
DIMENSION = "RuleName"


def count(rule: Rule, **counts: int) -> None:
    """Add ``counts`` (metric name: events) to the rule's series and the account's."""
    recorder.counts(rule.account_id, NAMESPACE, DIMENSION, rule.name, counts)
    recorder.counts(rule.account_id, NAMESPACE, "", "", counts)


def event_matched(rule: Rule) -> None:
    """An event matched the rule (or the rule fired on its schedule): the rule's
    TriggeredRules and MatchedEvents, the account's TriggeredRules."""
    recorder.counts(
        rule.account_id, NAMESPACE, DIMENSION, rule.name, {"TriggeredRules": 1, "MatchedEvents": 1}
    )
    recorder.counts(rule.account_id, NAMESPACE, "", "", {"TriggeredRules": 1})


def account_event_matched(account_id: str) -> None:
    """An event matched at least one of the account's rules (its MatchedEvents, once)."""
    recorder.counts(account_id, NAMESPACE, "", "", {"MatchedEvents": 1})
