"""Public access for function URLs with ``AuthType`` NONE, as AWS's console grants it.

A NONE URL only answers when the function's resource-based policy lets anyone call it. When
you pick NONE, AWS's console adds that for you with AddPermission on the URL's qualifier:
``lambda:InvokeFunctionUrl`` for principal ``*`` on condition
``lambda:FunctionUrlAuthType = NONE`` and, since October 2025 (urls-auth in AWS's guide),
``lambda:InvokeFunction`` for principal ``*`` on condition
``lambda:InvokedViaFunctionUrl = true``. The console here does the same through the same
service as AddPermission, and takes the statements away when the URL is deleted or switched
to AWS_IAM: left behind, the second one would let any signed caller invoke through an
AWS_IAM URL, since its principal is ``*``.

The API (Create/UpdateFunctionUrlConfig) never touches the policy, as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions import arns, selectors
from functions.models import FunctionVersion, PolicyStatement
from functions.selectors import UrlTarget
from functions.services import policies

# The statement ids AWS's console and guide use.
PUBLIC_URL_SID = "FunctionURLAllowPublicAccess"
PUBLIC_INVOKE_SID = "FunctionURLInvokeAllowPublicAccess"


@dataclass(frozen=True)
class PolicyChange:
    """One statement the console added to or removed from the policy."""

    sid: str
    action: str
    added: bool


def public_access_params() -> list[dict[str, Any]]:
    """The AddPermission calls that make a NONE URL public, in the order AWS makes them."""
    return [
        {
            "StatementId": PUBLIC_URL_SID,
            "Action": policies.INVOKE_URL_ACTION,
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
        {
            "StatementId": PUBLIC_INVOKE_SID,
            "Action": policies.INVOKE_ACTION,
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
        },
    ]


def _resolved(target: UrlTarget) -> selectors.Resolved:
    """The policy a URL's statements belong to: the function's for $LATEST, else the alias's."""
    qualifier = None if target.qualifier == FunctionVersion.LATEST else target.qualifier
    return selectors.function_resolve(
        target.function.account, target.function.name, qualifier, follow_alias=False
    )


def _statements(resolved: selectors.Resolved) -> Any:
    return PolicyStatement.objects.filter(
        function=resolved.function, qualifier=selectors.policy_qualifier(resolved)
    )


def _shape(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement without its id: what it allows."""
    return {key: value for key, value in statement.items() if key != "Sid"}


def _public_shapes(resolved: selectors.Resolved) -> list[dict[str, Any]]:
    function = resolved.function
    qualifier = selectors.policy_qualifier(resolved) or None
    resource = arns.function_arn(function.account_id, function.name, qualifier)
    return [_shape(policies.build_statement(resource, params)) for params in public_access_params()]


def public_access_grant(*, target: UrlTarget) -> list[PolicyChange]:
    """Add the public-access statements a NONE URL needs, unless the policy already allows
    the same (under any statement id). Returns what was added."""
    resolved = _resolved(target)
    existing = [_shape(row.statement) for row in _statements(resolved)]
    changes: list[PolicyChange] = []
    for params, shape in zip(public_access_params(), _public_shapes(resolved), strict=True):
        if shape in existing:
            continue
        policies.permission_add(resolved=resolved, params=params)
        changes.append(PolicyChange(params["StatementId"], params["Action"], added=True))
    return changes


def public_access_revoke(*, target: UrlTarget) -> list[PolicyChange]:
    """Remove every statement that grants exactly the public URL access (whatever its id).
    Statements with further conditions or other principals are the owner's and stay."""
    resolved = _resolved(target)
    shapes = _public_shapes(resolved)
    changes: list[PolicyChange] = []
    for row in list(_statements(resolved).order_by("created")):
        if _shape(row.statement) in shapes:
            policies.permission_remove(resolved=resolved, sid=row.sid, revision_id=None)
            changes.append(PolicyChange(row.sid, str(row.statement["Action"]), added=False))
    return changes
