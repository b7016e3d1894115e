"""WebSocket routes of every app."""

from __future__ import annotations

from typing import Any

from monitoring.routing import websocket_urlpatterns as monitoring_routes

websocket_urlpatterns: list[Any] = [*monitoring_routes]
