"""Monitoring endpoints of the platform API (live-tail grants) and the internal forward."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi import internal
from awsapi.errors import ResourceNotFound
from awsapi.sigv4 import SignedIdentity
from monitoring import live, selectors
from platformapi.authentication import ConsoleSessionAuthentication, SigV4Authentication
from platformapi.permissions import Action, require
from platformapi.views import SignedInRequest


class LiveTailTokenInput(serializers.Serializer[Any]):
    group = serializers.CharField(help_text="The log group to tail.")


class LiveTailTokenOutput(serializers.Serializer[Any]):
    token = serializers.CharField()
    expiresIn = serializers.IntegerField(help_text="Seconds the token may be used to connect.")
    path = serializers.CharField(help_text="The WebSocket path to connect to.")


class LiveTailTokenView(APIView):
    """A signed grant to tail one of the user's log groups from a non-browser client: for
    the signed-in console user, or (SigV4, scoped to ``logs``) for an access key's user.
    The grant names both, so deactivating either voids it."""

    authentication_classes = [SigV4Authentication, ConsoleSessionAuthentication]
    sigv4_service = "logs"

    @extend_schema(parameters=[LiveTailTokenInput], responses=LiveTailTokenOutput)
    def get(self, request: SignedInRequest) -> Response:
        params = LiveTailTokenInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        group = params.validated_data["group"]
        identity = request.auth
        key_id = identity.access_key.access_key_id if isinstance(identity, SignedIdentity) else None
        user = request.user
        require(request, Action.LIVE_TAIL, logGroupIdentifiers=[group])
        if selectors.log_group_id_for_live_tail(user.account_id, group) is None:
            raise ResourceNotFound("The specified log group does not exist.")
        return Response(
            {
                "token": live.token_for(user.account_id, group, user_id=user.pk, key_id=key_id),
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
