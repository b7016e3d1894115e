"""The console's side of IAM: each page's controls, with the reason a control is disabled,
and the page a user sees when the page's own read is refused.

The table from console action to AWS operation is :class:`platformapi.permissions.Action`
(below the apps, so the platform API's views use it too); the endpoints enforce it with
:func:`platformapi.permissions.require`. Here each page evaluates every action it offers
once per render (``iam.access.denial``: policies cached per identity, microseconds each) and
hands the answers to its template (``controls.deploy``, falsy when allowed) and its script
(``console-permissions``, the same as JSON).

Actions whose resource the user names only later (a new function, rule or layer) are
evaluated on a placeholder name: a policy limited to some names disables the control and
the endpoint decides on the real name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from functions import arns
from functions.models import Function
from iam.models import User
from platformapi.permissions import Action, Denied, denial, require

__all__ = [
    "Action",
    "Controls",
    "Denied",
    "controls",
    "denial",
    "denied_page",
    "function_controls",
    "require",
]

Controls = dict[str, Denied | None]

# A name the user has not chosen yet: rules and event source mappings accept "*" in their
# ARN (it stands for any); functions and layers need a valid name.
ANY = "*"
NEW_FUNCTION = "new-function"
NEW_LAYER = "new-layer"

# The function page's controls, each with what its operation's authorization reads.
_FUNCTION_PAGE = (
    Action.VIEW_FUNCTION,
    Action.DEPLOY,
    Action.DELETE_FUNCTION,
    Action.CONFIGURE,
    Action.ADD_PERMISSION,
    Action.REMOVE_PERMISSION,
    Action.PUT_CONCURRENCY,
    Action.DELETE_CONCURRENCY,
    Action.ASYNC_CONFIG,
    Action.PUBLISH_VERSION,
    Action.CREATE_ALIAS,
    Action.UPDATE_ALIAS,
    Action.DELETE_ALIAS,
    Action.CREATE_URL,
    Action.UPDATE_URL,
    Action.DELETE_URL,
    Action.CREATE_MAPPING,
    Action.TEST,
    Action.SAVE_TEST_EVENT,
    Action.SHARE_TEST_EVENT,
)


def key(action: Action) -> str:
    """The name a template and a script use for ``action`` (``deploy``, ``test``, ...)."""
    return action.name.lower()


def controls(user: User, actions: Iterable[Action], **params: Any) -> Controls:
    """Each action's denial (None when allowed), evaluated with the same ``params``."""
    return {key(action): denial(user, action, **params) for action in actions}


def function_controls(user: User, function: Function, log_group: str) -> Controls:
    """Every control of the function page (``log_group``: where the function logs)."""
    name = function.name
    found = controls(user, _FUNCTION_PAGE, FunctionName=name)
    resource = arns.function_arn(function.account_id, name)
    found[key(Action.TAG)] = denial(user, Action.TAG, Resource=resource, Tags={})
    found[key(Action.UNTAG)] = denial(user, Action.UNTAG, Resource=resource)
    for action in (Action.UPDATE_MAPPING, Action.DELETE_MAPPING):
        found[key(action)] = denial(user, action, UUID=ANY, FunctionName=name)
    found[key(Action.PUT_RULE)] = denial(user, Action.PUT_RULE, Name=ANY)
    found[key(Action.PUT_TARGETS)] = denial(
        user, Action.PUT_TARGETS, Rule=ANY, Targets=[{"Id": "1", "Arn": resource}]
    )
    for action in (
        Action.ENABLE_RULE,
        Action.DISABLE_RULE,
        Action.REMOVE_TARGETS,
        Action.DELETE_RULE,
    ):
        found[key(action)] = denial(user, action, Name=ANY)
    found[key(Action.READ_LOGS)] = denial(user, Action.READ_LOGS, logGroupName=log_group)
    found[key(Action.LIVE_TAIL)] = denial(user, Action.LIVE_TAIL, logGroupIdentifiers=[log_group])
    found[key(Action.READ_METRICS)] = denial(user, Action.READ_METRICS)
    # Controls that need more than one action: the first refusal is the reason.
    found["tags"] = first(found, Action.TAG, Action.UNTAG)
    found["concurrency"] = first(found, Action.PUT_CONCURRENCY, Action.DELETE_CONCURRENCY)
    found["async"] = first(found, Action.ASYNC_CONFIG, Action.CONFIGURE)
    found["rule_add"] = first(found, Action.PUT_RULE, Action.PUT_TARGETS, Action.ADD_PERMISSION)
    found["rule_remove"] = first(
        found, Action.REMOVE_TARGETS, Action.DELETE_RULE, Action.REMOVE_PERMISSION
    )
    # Add trigger makes a mapping or a rule: disabled only when neither may be made.
    neither = found["create_mapping"] is not None and found["rule_add"] is not None
    found["trigger_add"] = found["create_mapping"] if neither else None
    return found


def first(found: Controls, *actions: Action) -> Denied | None:
    """The first refusal among ``actions`` (a control that needs all of them)."""
    return next((found[key(a)] for a in actions if found.get(key(a)) is not None), None)


def as_json(found: Controls) -> dict[str, dict[str, str] | None]:
    """The page script's copy (``console-permissions``)."""
    return {name: None if denied is None else denied.as_json() for name, denied in found.items()}


def denied_page(request: HttpRequest, denied: Denied) -> HttpResponse:
    """The page a user sees instead of one they may not read: AWS's message, 403."""
    return render(request, "console/denied.html", {"denied": denied}, status=403)
