"""Console-facing monitoring endpoints (session-authenticated JSON)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse

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
