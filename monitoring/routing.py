"""WebSocket routes of the monitoring app."""

from __future__ import annotations

from django.urls import path

from monitoring.consumers import LogTailConsumer

websocket_urlpatterns = [path("ws/logs/", LogTailConsumer.as_asgi())]
