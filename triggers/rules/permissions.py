"""Whether a function's resource-based policy lets EventBridge invoke it for a rule.

As on AWS, a rule's Lambda target is invoked only when the function's policy lets the
``events.amazonaws.com`` service principal perform ``lambda:InvokeFunction`` on the function
(or the version or alias the target names), evaluated by IAM's rules (:mod:`iam.policy`)
with the keys EventBridge supplies: ``aws:SourceArn`` (the rule's ARN) and
``aws:SourceAccount`` (the rule's account). Any operator or key of the policy language
applies; a statement with a condition on a key EventBridge does not supply (an
organization id, an event source token, a function URL's) does not match; a Deny wins.
"""

from __future__ import annotations

from iam.access import resources
from iam.policy import Policy, Principal, RequestContext, evaluate

SERVICE = "events.amazonaws.com"
INVOKE_ACTION = "lambda:InvokeFunction"


def invoke_request(function_arn: str, *, rule_arn: str, rule_account: str) -> RequestContext:
    """EventBridge's request to invoke ``function_arn`` for the rule."""
    return RequestContext(
        Principal(SERVICE, rule_account, "service"),
        INVOKE_ACTION,
        function_arn,
        {"aws:SourceArn": rule_arn, "aws:SourceAccount": rule_account},
    )


def events_may_invoke(
    policy: Policy | None, *, function_arn: str, rule_arn: str, rule_account: str
) -> bool:
    """Whether ``policy`` (the function's) lets EventBridge invoke ``function_arn`` (the
    unqualified function's ARN, or the version's or alias's) for the rule."""
    context = invoke_request(function_arn, rule_arn=rule_arn, rule_account=rule_account)
    owner = resources.account_of(function_arn)
    return evaluate(context, (), policy, owner).allowed
