"""Turning what happened into audit events: AWS API calls (from ``awsapi.observe``),
console sign-ins and sign-outs (Django's auth signals) and the console's changes
(``audit.middleware``). Everything here runs on the request path, so it only builds a dict
and hands it to :data:`audit.recorder.recorder`; storing happens in the background.

What AWS calls data events (Invoke, the log streams' reads and writes) are not recorded
unless ``FUNCTORY_AUDIT_DATA_EVENTS`` is on, as CloudTrail records management events only
by default; the check is the first thing done for every call, so Invoke pays one set lookup.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from botocore.model import OperationModel
from django.conf import settings
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from audit import sanitize
from audit.recorder import recorder
from audit.vocabulary import DATA_EVENTS, EVENT_SOURCES, READ_PREFIXES
from awsapi import query, sigv4
from awsapi.observe import ApiCall
from iam.models import TemporaryCredential, User

EVENT_VERSION = "1.08"
# Request members naming the resource a call is about: (member, resource type).
_RESOURCE_MEMBERS = (
    ("FunctionName", "AWS::Lambda::Function", "arn:aws:lambda:{region}:{account}:function:{name}"),
    ("LayerName", "AWS::Lambda::LayerVersion", "arn:aws:lambda:{region}:{account}:layer:{name}"),
    (
        "UUID",
        "AWS::Lambda::EventSourceMapping",
        "arn:aws:lambda:{region}:{account}:event-source-mapping:{name}",
    ),
    ("logGroupName", "AWS::Logs::LogGroup", "arn:aws:logs:{region}:{account}:log-group:{name}"),
    ("Name", "AWS::Events::Rule", "arn:aws:events:{region}:{account}:rule/{name}"),
    ("Rule", "AWS::Events::Rule", "arn:aws:events:{region}:{account}:rule/{name}"),
    ("RoleName", "AWS::IAM::Role", "arn:aws:iam::{account}:role/{name}"),
    ("UserName", "AWS::IAM::User", "arn:aws:iam::{account}:user/{name}"),
    ("PolicyArn", "AWS::IAM::Policy", "{name}"),
)
# URL parameters by their member names (the rest are snake_case of PascalCase).
_URL_MEMBERS = {"uuid": "UUID"}
# Bodies read for requestParameters when a view did not parse them already.
_MAX_PARSED_BODY = 256 * 1024
_MAX_HEADER = 1024


def data_events_enabled() -> bool:
    return bool(getattr(settings, "FUNCTORY_AUDIT_DATA_EVENTS", False))


def now_iso(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def source_ip(http: HttpRequest) -> str:
    # The peer, never X-Forwarded-For: anyone can send that header (as DRF's throttle).
    return str(http.META.get("REMOTE_ADDR") or "")[:64]


def user_agent(http: HttpRequest) -> str:
    return http.headers.get("User-Agent", "")[:_MAX_HEADER]


def user_identity(user: User | None, access_key_id: str = "") -> dict[str, Any]:
    """CloudTrail's ``userIdentity`` of a user (an account's admin acts as its root)."""
    if user is None:
        identity: dict[str, Any] = {"type": "Unknown"}
        if access_key_id:
            identity["accessKeyId"] = access_key_id
        return identity
    account_id = str(user.account_id)
    if user.is_staff:
        identity = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "userName": user.username,
        }
    else:
        identity = {
            "type": "IAMUser",
            "principalId": f"AIDA{user.pk:016d}",
            "arn": f"arn:aws:iam::{account_id}:user/{user.username}",
            "accountId": account_id,
            "userName": user.username,
        }
    if access_key_id:
        identity["accessKeyId"] = access_key_id
    return identity


def _caller_user(caller: object | None) -> User | None:
    """The user an API shell's ``authenticate`` vouched for (iam's ApiRequest, or a
    SignedIdentity whose key has a user)."""
    if caller is None:
        return None
    user = getattr(caller, "user", None)
    if user is None:
        key = getattr(caller, "access_key", None)
        user = getattr(key, "user", None)
    return user if isinstance(user, User) else None


def _execution_role_session(caller: object | None) -> TemporaryCredential | None:
    """The role session without a user (a function's execution role) that signed the call."""
    key = getattr(caller, "credential", None) or getattr(caller, "access_key", None)
    if isinstance(key, TemporaryCredential) and key.user_id is None and key.role_id is not None:
        return key
    return None


def assumed_role_identity(session: TemporaryCredential) -> dict[str, Any]:
    """CloudTrail's ``userIdentity`` of a role's session."""
    role = session.role
    assert role is not None
    account_id = str(session.account_id)
    return {
        "type": "AssumedRole",
        "principalId": session.caller_id,
        "arn": session.arn,
        "accountId": account_id,
        "accessKeyId": session.access_key_id,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role.role_id,
                "arn": role.arn,
                "accountId": account_id,
                "userName": role.name,
            }
        },
    }


def _url_member(name: str) -> str:
    return _URL_MEMBERS.get(name) or "".join(part.title() for part in name.split("_"))


def _input(call: ApiCall) -> dict[str, Any]:
    """The call's input by model member name: URL parameters, query and JSON body."""
    params: dict[str, Any] = {}
    for name, value in (call.url_kwargs or {}).items():
        params[_url_member(name)] = value
    model = sanitize.operation_model(call.service, call.operation)
    shape = model.input_shape if model is not None else None
    if shape is not None and call.http.GET:
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if member.serialization.get("location") == "querystring" and key in call.http.GET:
                params[name] = call.http.GET.get(key)
    if shape is not None and shape.serialization.get("payload"):
        return params  # the body is a payload (Invoke's event), never kept
    # iam's ApiRequest keeps the body its view parsed: no second parse of a large zip.
    body = getattr(call.caller, "_json", None)
    if body is None and model is not None and _is_form(call.http):
        body = _parse_form(call.http, model)  # IAM and STS: the query protocol
    if body is None:
        body = _parse_body(call.http)
    if isinstance(body, dict):
        params.update(body)
    return params


def _is_form(http: HttpRequest) -> bool:
    return http.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")


def _parse_form(http: HttpRequest, model: OperationModel) -> Any:
    declared = http.headers.get("Content-Length", "")
    if not declared.isdigit() or not 0 < int(declared) <= _MAX_PARSED_BODY:
        return None
    try:
        return query.parse_params(model, query.parse_form(http.body))
    except Exception:  # malformed: the event keeps no body
        return None


def _parse_body(http: HttpRequest) -> Any:
    declared = http.headers.get("Content-Length", "")
    if not declared.isdigit() or not 0 < int(declared) <= _MAX_PARSED_BODY:
        return None
    try:
        return json.loads(http.body)
    except Exception:  # not JSON (or too deep): the event keeps no body
        return None


def resource(kind: str, name: str, arn: str, account_id: str) -> dict[str, str]:
    """A ``resources`` entry as CloudTrail writes it; ``_name`` (what LookupEvents'
    ResourceName matches: the name as the caller gave it) is stored apart, not shown."""
    return {"type": kind, "ARN": arn[:512], "accountId": account_id, "_name": name[:256]}


def _resources(params: dict[str, Any], account_id: str, region: str) -> list[dict[str, str]]:
    for member, kind, template in _RESOURCE_MEMBERS:
        value = params.get(member)
        if isinstance(value, str) and value:
            arn = (
                value
                if value.startswith("arn:")
                else template.format(region=region, account=account_id, name=value)
            )
            return [resource(kind, value, arn, account_id)]
    return []


def api_call(call: ApiCall) -> None:
    """``awsapi.observe``'s observer: record one answered AWS API call."""
    data_event = (call.service, call.operation) in DATA_EVENTS
    if data_event and not data_events_enabled():
        return
    user = _caller_user(call.caller)
    access_key_id = (sigv4.claimed_access_key_id(call.http) or "")[:128]
    # A function's execution-role session: vouched for, though no user asked for it.
    role_session = _execution_role_session(call.caller) if user is None else None
    operation = call.operation[:128] or "UnknownOperation"
    read_only = is_read_only(operation)
    vouched = user is not None or role_session is not None
    try:
        params = _input(call) if vouched else {}
    except Exception:
        params = {}
    hidden: set[str] = set()
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": (
            user_identity(user, access_key_id)
            if role_session is None
            else assumed_role_identity(role_session)
        ),
        "eventTime": now_iso(),
        "eventSource": EVENT_SOURCES.get(call.service, f"{call.service}.amazonaws.com"),
        "eventName": operation,
        "awsRegion": getattr(call.caller, "region", None) or settings.FUNCTORY_REGION,
        "sourceIPAddress": source_ip(call.http),
        "userAgent": user_agent(call.http),
        "requestParameters": sanitize.request_parameters(call.service, operation, params, hidden),
        "responseElements": None,
        "requestID": call.request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": not data_event,
        "recipientAccountId": (
            str(user.account_id)
            if user is not None
            else str(role_session.account_id)
            if role_session is not None
            else ""
        ),
        "eventCategory": "Data" if data_event else "Management",
    }
    resources = _resources(params, event["recipientAccountId"], event["awsRegion"])
    if resources:
        event["resources"] = resources
    if call.error is not None:
        event["errorCode"] = call.error.code[:128]
        event["errorMessage"] = sanitize.scrub(str(call.error.message), hidden)
    elif not read_only:
        # As CloudTrail: a read's answer is not kept, a change's is (sanitised).
        event["responseElements"] = sanitize.response_elements(
            call.service, operation, call.response
        )
    if not vouched:
        # Nobody vouched for this call: it counts against the bounded, aggregated budget.
        recorder.record_unauthenticated(event)
    else:
        recorder.record(event)


def console_event(
    http: HttpRequest,
    name: str,
    user: User | None,
    *,
    event_type: str = "AwsConsoleAction",
    read_only: bool = False,
    params: Any = None,
    error_code: str = "",
    error_message: str = "",
    response: Any = None,
    account_hint: str = "",
) -> dict[str, Any]:
    """An event of the web console (``eventSource`` ``console``)."""
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(user),
        "eventTime": now_iso(),
        "eventSource": "console",
        "eventName": name[:128],
        "awsRegion": settings.FUNCTORY_REGION,
        "sourceIPAddress": source_ip(http),
        "userAgent": user_agent(http),
        "requestParameters": sanitize.bounded(sanitize.by_name(params)) if params else None,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": event_type,
        "managementEvent": True,
        "recipientAccountId": str(user.account_id) if user is not None else account_hint,
        "eventCategory": "Management",
    }
    if error_code:
        event["errorCode"] = error_code[:128]
        event["errorMessage"] = error_message[:1024]
    return event


# -- sign-in and sign-out (CloudTrail's ConsoleLogin) ----------------------------------------


def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not isinstance(user, User):
        return
    recorder.record(
        console_event(
            request,
            "ConsoleLogin",
            user,
            event_type="AwsConsoleSignIn",
            response={"ConsoleLogin": "Success"},
        )
    )


def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is None:
        return
    # Only the name someone typed; Django has already masked the password.
    name = str(credentials.get("username") or "")[:200]
    account_id, slash, _ = name.partition("/")
    hint = account_id if slash and account_id.isdigit() and len(account_id) == 12 else ""
    event = console_event(
        request,
        "ConsoleLogin",
        None,
        event_type="AwsConsoleSignIn",
        error_code="Failed authentication",
        error_message="Failed authentication",
        response={"ConsoleLogin": "Failure"},
        account_hint=hint,
    )
    event["userIdentity"] = {"type": "IAMUser", "userName": name}
    if hint:
        event["userIdentity"]["accountId"] = hint
    recorder.record_unauthenticated(event)


def _signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not isinstance(user, User):
        return
    recorder.record(console_event(request, "ConsoleLogout", user, event_type="AwsConsoleSignIn"))


def connect_sign_in_signals() -> None:
    auth_signals.user_logged_in.connect(_signed_in, dispatch_uid="audit-signed-in")
    auth_signals.user_login_failed.connect(_sign_in_failed, dispatch_uid="audit-sign-in-failed")
    auth_signals.user_logged_out.connect(_signed_out, dispatch_uid="audit-signed-out")
