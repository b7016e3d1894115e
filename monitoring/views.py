"""Console-facing monitoring endpoints (session-authenticated JSON)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console import internal
from monitoring import live, selectors


@login_required
def live_tail_token(request: HttpRequest) -> HttpResponse:
    """A signed grant to tail one of the user's log groups from a non-browser client."""
    group = request.GET.get("group", "")
    account_id = request.user.account_id  # type: ignore[union-attr]
    if selectors.log_group_id_for_live_tail(account_id, group) is None:
        return JsonResponse({"message": "The specified log group does not exist."}, status=404)
    return JsonResponse(
        {
            "token": live.token_for(account_id, group),
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
