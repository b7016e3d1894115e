"""Running an alarm's actions: a hook, because what an action does lives above this layer
(invoking a Lambda function is ``invocations``' business, and ``monitoring`` may not import
it). An upper layer installs a runner per ARN service (``triggers`` installs ``lambda``);
an action of a service with no runner fails, and the alarm's history says so, as AWS records
an action it could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AlarmAction:
    account_id: str  # the alarm's account
    alarm_arn: str
    action_arn: str
    event: dict[str, Any]  # the alarm event (AWS's payload for Lambda actions)


class ActionFailed(Exception):
    """The action could not run; the message goes into the alarm's history."""


Runner = Callable[[AlarmAction], None]
_RUNNERS: dict[str, Runner] = {}


def runner_install(service: str, runner: Runner) -> None:
    """Run the actions whose ARN names ``service`` (``arn:aws:<service>:...``) with ``runner``."""
    _RUNNERS[service] = runner


def action_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def action_run(action: AlarmAction) -> None:
    """Run one action; ActionFailed when it could not be."""
    service = action_service(action.action_arn)
    runner = _RUNNERS.get(service)
    if runner is None:
        raise ActionFailed(
            f"Actions of type {service or 'unknown'} are not supported by this platform "
            "(only Lambda function actions run)."
        )
    runner(action)
