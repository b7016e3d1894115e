"""Writes for a function's resource-based policy: AddPermission and RemovePermission.

A policy belongs to the function ('' qualifier), a published version or an alias; a change
bumps the RevisionId of that target. Each public function runs in one transaction.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import transaction

from awsapi.errors import (
    InvalidParameterValue,
    PolicyLengthExceeded,
    ResourceConflict,
    ResourceNotFound,
)
from functions import arns, render
from functions.models import Alias, Function, FunctionVersion, PolicyStatement, new_revision_id
from functions.selectors import Resolved, policy_qualifier
from functions.services.functions import check_revision

POLICY_SIZE_LIMIT = 20480
_ACCOUNT_RE = re.compile(r"\d{12}")
_SERVICE_RE = re.compile(r"[a-z0-9.-]+\.[a-z0-9.-]+")


def _principal(value: str) -> Any:
    if value == "*":
        return "*"
    if _ACCOUNT_RE.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    if _SERVICE_RE.fullmatch(value):
        return {"Service": value}
    raise InvalidParameterValue(
        "The provided principal was invalid. Please check the principal and try again."
    )


# Function URL access (urls-auth in AWS's guide): ``lambda:InvokeFunctionUrl`` limited by
# the URL's auth type, and since October 2025 also ``lambda:InvokeFunction`` limited to
# calls through a URL. Each condition only means something on its own action.
INVOKE_URL_ACTION = "lambda:InvokeFunctionUrl"
INVOKE_ACTION = "lambda:InvokeFunction"


def check_url_conditions(params: dict[str, Any]) -> None:
    action = str(params["Action"])
    if params.get("FunctionUrlAuthType") and action.lower() != INVOKE_URL_ACTION.lower():
        raise InvalidParameterValue(
            f"FunctionUrlAuthType is only supported for the {INVOKE_URL_ACTION} action. "
            f"The provided action was {action}."
        )
    if params.get("InvokedViaFunctionUrl") and action.lower() != INVOKE_ACTION.lower():
        raise InvalidParameterValue(
            f"InvokedViaFunctionUrl is only supported for the {INVOKE_ACTION} action. "
            f"The provided action was {action}."
        )


def build_statement(resource: str, params: dict[str, Any]) -> dict[str, Any]:
    """One policy statement in the shape AWS stores and returns it."""
    check_url_conditions(params)
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    # The keys in the order AWS writes them (SourceAccount, FunctionUrlAuthType, PrincipalOrgID).
    equals: dict[str, str] = {}
    if params.get("SourceAccount"):
        equals["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("FunctionUrlAuthType"):
        equals["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("PrincipalOrgID"):
        equals["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("EventSourceToken"):
        equals["lambda:EventSourceToken"] = params["EventSourceToken"]
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if params.get("InvokedViaFunctionUrl"):
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


def _lock_target(resolved: Resolved) -> tuple[Function, FunctionVersion | Alias]:
    """Lock the function and the row whose RevisionId the policy carries."""
    function = Function.objects.select_for_update().get(pk=resolved.function.pk)
    target: FunctionVersion | Alias
    if resolved.alias is not None:
        target = Alias.objects.select_for_update().get(pk=resolved.alias.pk)
    elif policy_qualifier(resolved):
        assert resolved.version is not None
        target = FunctionVersion.objects.select_for_update().get(pk=resolved.version.pk)
    else:
        target = function.versions.select_for_update().get(number=0)
    return function, target


def _bump(target: FunctionVersion | Alias) -> None:
    target.revision_id = new_revision_id()
    target.save(update_fields=["revision_id"])


def permission_add(*, resolved: Resolved, params: dict[str, Any]) -> dict[str, Any]:
    """AddPermission; returns the statement added."""
    qualifier = policy_qualifier(resolved)
    function = resolved.function
    resource = arns.function_arn(function.account_id, function.name, qualifier or None)
    statement = build_statement(resource, params)
    with transaction.atomic():
        function, target = _lock_target(resolved)
        check_revision(params.get("RevisionId"), target.revision_id)
        existing = PolicyStatement.objects.filter(function=function, qualifier=qualifier)
        if existing.filter(sid=statement["Sid"]).exists():
            raise ResourceConflict(
                f"The statement id ({statement['Sid']}) provided already exists. Please "
                "provide a new statement id, or remove the existing statement."
            )
        document = render.policy_document([row.statement for row in existing] + [statement])
        size = len(json.dumps(document, separators=(",", ":")))
        if size > POLICY_SIZE_LIMIT:
            raise PolicyLengthExceeded(
                f"The final policy size ({size}) is bigger than the limit ({POLICY_SIZE_LIMIT})."
            )
        PolicyStatement.objects.create(
            function=function, qualifier=qualifier, sid=statement["Sid"], statement=statement
        )
        _bump(target)
    return statement


def permission_remove(*, resolved: Resolved, sid: str, revision_id: str | None) -> None:
    """RemovePermission by statement id."""
    qualifier = policy_qualifier(resolved)
    with transaction.atomic():
        function, target = _lock_target(resolved)
        statements = PolicyStatement.objects.filter(function=function, qualifier=qualifier)
        if not statements.exists():
            raise ResourceNotFound("No policy is associated with the given resource.")
        row = statements.filter(sid=sid).first()
        if row is None:
            raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
        check_revision(revision_id, target.revision_id)
        row.delete()
        _bump(target)
