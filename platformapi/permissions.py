"""What each console action and platform-API endpoint is, in AWS's terms, and whether the
caller may do it: the one table from a console control to the AWS operation it stands for,
evaluated by IAM (``iam.access``) exactly as that operation is through the AWS APIs.

Views call :func:`require` before they change (or read) anything: a refusal raises AWS's
AccessDenied (403, AWS's message), which the platform API answers as JSON and a page as its
"not authorized" page. Pages call :func:`denial` once per control to render it disabled
with the reason. The account's admin is its root: nothing is ever refused to it.

Test events have no AWS API (AWS's console keeps private events per user, and shareable ones
in an EventBridge Schemas registry): saving a private event needs what running it needs
(``lambda:InvokeFunction``); a shareable event changes what everyone testing the function
sees, so it needs ``lambda:UpdateFunctionConfiguration``. The account's asynchronous
invocations list (Functory's own) is a listing across the account's functions:
``lambda:ListFunctions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from awsapi.sigv4 import SignedIdentity
from iam import access
from iam.models import User

# "User: arn:… is not authorized to perform: lambda:GetFunction on resource: …"
_PERFORM = re.compile(r"not authorized to perform: ([\w-]+:[\w*-]+)")


@dataclass(frozen=True)
class Operation:
    """The AWS operation behind a console action, and what doing it is called."""

    service: str
    operation: str
    doing: str

    @property
    def iam_action(self) -> str:
        return access.action_name(self.service, self.operation)


class Action(Enum):
    """Every console action; the value is its AWS operation. Function actions take
    ``FunctionName`` (and what else the operation's authorization reads)."""

    # Reads
    LIST_FUNCTIONS = Operation("lambda", "ListFunctions", "see the account's functions")
    VIEW_FUNCTION = Operation("lambda", "GetFunction", "see this function")
    READ_LOGS = Operation("logs", "FilterLogEvents", "read the function's logs")
    LIVE_TAIL = Operation("logs", "StartLiveTail", "follow the logs live")
    LIST_LOG_GROUPS = Operation("logs", "DescribeLogGroups", "see the account's log groups")
    START_QUERY = Operation("logs", "StartQuery", "run Logs Insights queries")
    QUERY_RESULTS = Operation("logs", "GetQueryResults", "read Logs Insights results")
    STOP_QUERY = Operation("logs", "StopQuery", "stop Logs Insights queries")
    # AWS's Lambda console draws its charts with GetMetricData (AWSLambda_ReadOnlyAccess
    # allows it, not GetMetricStatistics).
    READ_METRICS = Operation("monitoring", "GetMetricData", "see metrics")
    READ_TRACES = Operation("xray", "BatchGetTraces", "see X-Ray traces")
    LIST_LAYERS = Operation("lambda", "ListLayers", "see the account's layers")
    # Functions
    CREATE_FUNCTION = Operation("lambda", "CreateFunction", "create functions")
    DEPLOY = Operation("lambda", "UpdateFunctionCode", "deploy code")
    DELETE_FUNCTION = Operation("lambda", "DeleteFunction", "delete the function")
    CONFIGURE = Operation("lambda", "UpdateFunctionConfiguration", "change the configuration")
    TAG = Operation("lambda", "TagResource", "add or change tags")
    UNTAG = Operation("lambda", "UntagResource", "remove tags")
    ADD_PERMISSION = Operation("lambda", "AddPermission", "add policy statements")
    REMOVE_PERMISSION = Operation("lambda", "RemovePermission", "remove policy statements")
    PUT_CONCURRENCY = Operation("lambda", "PutFunctionConcurrency", "reserve concurrency")
    DELETE_CONCURRENCY = Operation(
        "lambda", "DeleteFunctionConcurrency", "remove reserved concurrency"
    )
    ASYNC_CONFIG = Operation(
        "lambda", "PutFunctionEventInvokeConfig", "change asynchronous invocation"
    )
    PUBLISH_VERSION = Operation("lambda", "PublishVersion", "publish versions")
    CREATE_ALIAS = Operation("lambda", "CreateAlias", "create aliases")
    UPDATE_ALIAS = Operation("lambda", "UpdateAlias", "change aliases")
    DELETE_ALIAS = Operation("lambda", "DeleteAlias", "delete aliases")
    CREATE_URL = Operation("lambda", "CreateFunctionUrlConfig", "create function URLs")
    UPDATE_URL = Operation("lambda", "UpdateFunctionUrlConfig", "change function URLs")
    DELETE_URL = Operation("lambda", "DeleteFunctionUrlConfig", "delete function URLs")
    # Triggers: event source mappings, and EventBridge rules as AWS's console makes them
    CREATE_MAPPING = Operation("lambda", "CreateEventSourceMapping", "add event sources")
    UPDATE_MAPPING = Operation(
        "lambda", "UpdateEventSourceMapping", "enable or disable event sources"
    )
    DELETE_MAPPING = Operation("lambda", "DeleteEventSourceMapping", "delete event sources")
    PUT_RULE = Operation("events", "PutRule", "add EventBridge triggers")
    PUT_TARGETS = Operation("events", "PutTargets", "add EventBridge triggers")
    ENABLE_RULE = Operation("events", "EnableRule", "enable EventBridge triggers")
    DISABLE_RULE = Operation("events", "DisableRule", "disable EventBridge triggers")
    REMOVE_TARGETS = Operation("events", "RemoveTargets", "remove EventBridge triggers")
    DELETE_RULE = Operation("events", "DeleteRule", "remove EventBridge triggers")
    # Test
    TEST = Operation("lambda", "Invoke", "run Test")
    SAVE_TEST_EVENT = Operation("lambda", "Invoke", "save test events")
    SHARE_TEST_EVENT = Operation(
        "lambda", "UpdateFunctionConfiguration", "save shareable test events"
    )
    # Layers
    PUBLISH_LAYER = Operation("lambda", "PublishLayerVersion", "publish layers")
    DELETE_LAYER = Operation("lambda", "DeleteLayerVersion", "delete layer versions")

    @property
    def aws(self) -> Operation:
        """The AWS operation (not ``operation``: the URL walk of the tests reads that name
        as an API view's)."""
        value: Operation = self.value
        return value


@dataclass(frozen=True)
class Denied:
    """Why a control is disabled: AWS's message, and a short note naming the action."""

    action: Action
    message: str

    @property
    def note(self) -> str:
        """ "You need lambda:UpdateFunctionCode to deploy code.", naming the action AWS's
        message names (a dependent one, such as iam:PassRole, when that is what is missing)."""
        operation = self.action.aws
        named = _PERFORM.search(self.message)
        needed = named.group(1) if named else operation.iam_action
        return f"You need {needed} to {operation.doing}."

    def as_json(self) -> dict[str, str]:
        return {"message": self.message, "note": self.note}


def region() -> str:
    return str(settings.FUNCTORY_REGION)


def denial(user: User, action: Action, **params: Any) -> Denied | None:
    """Why the signed-in ``user`` may not do ``action`` (for rendering a control), or None."""
    operation = action.aws
    message = access.denial(user, region(), operation.service, operation.operation, params)
    return None if message is None else Denied(action, message)


def _credential(request: Any) -> Any:
    identity = getattr(request, "auth", None)
    return identity.access_key if isinstance(identity, SignedIdentity) else None


def _http(request: Any) -> HttpRequest:
    inner = getattr(request, "_request", None)
    return inner if isinstance(inner, HttpRequest) else request


def require(request: Any, action: Action, **params: Any) -> None:
    """Refuse the call (AWS's AccessDenied, 403) unless the caller may do ``action``: the
    signed-in console user, or the access key a platform-API call was signed with (a role
    session's limits included). Evaluated with the request's source address and transport,
    as the AWS APIs evaluate them."""
    check(request, action.aws.service, action.aws.operation, params)


def check(request: Any, service: str, operation: str, params: Mapping[str, Any]) -> None:
    """:func:`require` for an operation outside the console's table."""
    access.authorize(
        _credential(request), request.user, region(), _http(request), service, operation, params
    )
