"""The IAM policy language: documents, condition operators, policy variables and the
evaluation of a request against identity-based and resource-based policies.

A plain library: no Django, no models (an import-linter contract keeps it so). Callers parse a
stored document once (``parse_policy``), keep the ``Policy``, and ``evaluate`` requests.
"""

from __future__ import annotations

from iam.policy.context import Principal, RequestContext
from iam.policy.document import Policy, PolicyKind, parse_policy, policy_size
from iam.policy.errors import MalformedPolicyDocument, PolicyError, PolicyLimitExceeded
from iam.policy.evaluate import Decision, Reason, evaluate
from iam.policy.managed import managed_policy

__all__ = [
    "Decision",
    "MalformedPolicyDocument",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "PolicyLimitExceeded",
    "Principal",
    "Reason",
    "RequestContext",
    "evaluate",
    "managed_policy",
    "parse_policy",
    "policy_size",
]
