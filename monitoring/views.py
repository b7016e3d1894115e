"""Console-facing monitoring endpoints (session-authenticated JSON)."""

from __future__ import annotations

import json

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from awsapi import internal
from awsapi.errors import AWSError, new_request_id, rest_json_error
from iam import authentication
from monitoring import live, selectors


def live_tail_token(request: HttpRequest) -> HttpResponse:
    """A signed grant to tail one of the user's log groups from a non-browser client: for
    the signed-in console user, or (SigV4, scoped to ``logs``) for an access key's user.
    The grant names both, so deactivating either voids it."""
    key_id: str | None = None
    if "Authorization" in request.headers:
        try:
            identity = authentication.verify(request, b"", service="logs")
        except AWSError as error:
            return rest_json_error(error, new_request_id())
        user = identity.access_key.user
        key_id = identity.access_key.access_key_id
    elif request.user.is_authenticated:
        user = request.user
    else:
        return redirect_to_login(request.get_full_path())
    group = request.GET.get("group", "")
    account_id = user.account_id
    if selectors.log_group_id_for_live_tail(account_id, group) is None:
        return JsonResponse({"message": "The specified log group does not exist."}, status=404)
    return JsonResponse(
        {
            "token": live.token_for(account_id, group, user_id=user.pk, key_id=key_id),
            "expiresIn": live.TOKEN_MAX_AGE_SECONDS,
            "path": "/ws/logs/",
        }
    )


@csrf_exempt
@require_POST
def live_forward(request: HttpRequest) -> HttpResponse:
    """Events stored by another process of this server (the embedded worker), for this
    process's live-tail subscribers; the body is signed with the server's secret key."""
    if not internal.signed(request):
        return HttpResponse(status=403)
    messages = [(str(name), dict(message)) for name, message in json.loads(request.body)]
    live.publish_messages(messages, forward=False)
    return HttpResponse(status=204)
