"""CloudWatch alarms' Lambda actions: the runner ``monitoring``'s alarms call through their
hook (:mod:`monitoring.metrics.alarms.actions`), installed when the app loads.

As on AWS, the function (its ARN may name a version or an alias, and another account) is
invoked asynchronously with the alarm event, through the Event invoke acceptance path, so
its retries, dead-letter queue and destinations apply. The function's resource-based policy
must let ``lambda.alarms.cloudwatch.amazonaws.com`` perform ``lambda:InvokeFunction``, with
the keys CloudWatch supplies (``aws:SourceArn``: the alarm's ARN, ``aws:SourceAccount``: its
account); without it, or without the function, the action fails and the alarm's history
records why.
"""

from __future__ import annotations

import json
import uuid

from awsapi.errors import AWSError
from functions import arns
from functions.selectors import function_resolve, policy_qualifier
from iam.access import resources
from iam.models import Account
from iam.policy import Principal, RequestContext, evaluate
from invocations import acceptance
from invocations.selectors import invoke_target_resolve
from monitoring.metrics.alarms import actions

SERVICE = "lambda.alarms.cloudwatch.amazonaws.com"
INVOKE_ACTION = "lambda:InvokeFunction"


def alarms_may_invoke(function_arn: str, *, alarm_arn: str, alarm_account: str) -> bool:
    """Whether the function's policy lets CloudWatch invoke ``function_arn`` for the alarm."""
    context = RequestContext(
        Principal(SERVICE, alarm_account, "service"),
        INVOKE_ACTION,
        function_arn,
        {"aws:SourceArn": alarm_arn, "aws:SourceAccount": alarm_account},
    )
    policy = resources.cache.get(function_arn, load=True)
    return evaluate(context, (), policy, resources.account_of(function_arn)).allowed


def lambda_action_run(action: actions.AlarmAction) -> None:
    ref = arns.parse_function_name(action.action_arn)
    if ref is None or ref.account_id is None:
        raise actions.ActionFailed(f"{action.action_arn} is not a Lambda function ARN.")
    account = Account.objects.filter(pk=ref.account_id).first()
    if account is None:
        raise actions.ActionFailed(f"Function not found: {action.action_arn}")
    try:
        resolved = function_resolve(account, ref.name, ref.qualifier)
    except AWSError as error:
        raise actions.ActionFailed(error.message) from None
    function_arn = arns.function_arn(ref.account_id, ref.name, policy_qualifier(resolved) or None)
    if not alarms_may_invoke(
        function_arn, alarm_arn=action.alarm_arn, alarm_account=action.account_id
    ):
        raise actions.ActionFailed(
            f"CloudWatch Alarms is not authorized to perform: lambda:InvokeFunction on the "
            f"resource because no resource-based policy allows the lambda:InvokeFunction "
            f"action for {SERVICE} (function {action.action_arn})."
        )
    payload = json.dumps(action.event, separators=(",", ":")).encode()
    try:
        acceptance.check_event_payload(payload)
        target = invoke_target_resolve(account, ref.name, ref.qualifier)
    except AWSError as error:
        raise actions.ActionFailed(error.message) from None
    acceptance.async_invocation_create(target, request_id=str(uuid.uuid4()), payload=payload)


def install() -> None:
    actions.runner_install("lambda", lambda_action_run)
