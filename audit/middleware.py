"""Console actions that change something (every non-GET call of the console's pages and
JSON endpoints) as audit events with ``eventSource`` ``console``.

Reads are not recorded: the console's pages poll (metrics, logs, tables) and would bury the
changes, and CloudTrail leaves the AWS console's own page loads out too. AWS API calls are
recorded by their shells (``awsapi.observe``) and sign-in/sign-out by the auth signals, so
both are skipped here. Invoke never passes through middleware (``console.asgi``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from audit import capture
from audit.recorder import recorder
from awsapi import sigv4
from iam.models import User

logger = logging.getLogger(__name__)

_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_AWS_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/")
# Recorded elsewhere (sign-in signals) or not a user's action (replicas' internal calls).
_SKIPPED_NAMES = frozenset({"login", "logout", "live-forward"})
_MAX_BODY = 256 * 1024


class ConsoleAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _SAFE:
            return self.get_response(request)
        # Read (and so cache) a small JSON body now: the view reads the stream, after which
        # Django would refuse to give the body again.
        body = _small_json_body(request)
        response = self.get_response(request)
        try:
            _record(request, response, body)
        except Exception:
            logger.exception("recording a console action failed")
        return response


def _is_aws_call(request: HttpRequest) -> bool:
    return bool(_AWS_PATH.match(request.path)) or "X-Amz-Target" in request.headers


def _small_json_body(request: HttpRequest) -> Any:
    declared = request.headers.get("Content-Length", "")
    if _is_aws_call(request) or request.content_type != "application/json":
        return None
    if not declared.isdigit() or not 0 < int(declared) <= _MAX_BODY:
        return None
    try:
        return json.loads(request.body)
    except Exception:
        return None


def _error(response: HttpResponse) -> tuple[str, str]:
    if response.status_code < 400:
        return "", ""
    code = response.headers.get("x-amzn-ErrorType", "") or f"HTTP{response.status_code}"
    message = ""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = json.loads(response.content)
            message = str(body.get("error", {}).get("message", ""))
        except Exception:
            message = ""
    return code, message


def _record(request: HttpRequest, response: HttpResponse, body: Any) -> None:
    match = getattr(request, "resolver_match", None)
    if match is None or _is_aws_call(request) or match.url_name in _SKIPPED_NAMES:
        return
    if getattr(match.func, "operation", None) is not None:
        return  # an AWS API view: its shell recorded it
    user = getattr(request, "user", None)
    user = user if isinstance(user, User) and user.is_authenticated else None
    code, message = _error(response)
    name = f"{request.method} {match.url_name or match.view_name}"
    event = capture.console_event(
        request,
        name,
        user,
        params={**match.kwargs, **(body if isinstance(body, dict) else {})},
        error_code=code,
        error_message=message,
    )
    key_id = sigv4.claimed_access_key_id(request) if user is not None else None
    if key_id:  # the platform API signed with an access key rather than a session
        event["userIdentity"]["accessKeyId"] = key_id[:128]
    function = match.kwargs.get("name")
    if isinstance(function, str) and "functions/" in request.path:
        account_id = event["recipientAccountId"]
        arn = f"arn:aws:lambda:{event['awsRegion']}:{account_id}:function:{function}"
        event["resources"] = [capture.resource("AWS::Lambda::Function", function, arn, account_id)]
    if user is None:
        recorder.record_unauthenticated(event)
    else:
        recorder.record(event)
