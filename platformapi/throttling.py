"""Request rates of the platform API: per user, or per client address before sign-in."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class PlatformUserThrottle(UserRateThrottle):
    """DRF's per-user throttle with the rate read at each request (``FUNCTORY_API_RATE``),
    so a changed setting applies without a new class; counted in the default cache (Redis
    on the scaled profile: one count across replicas)."""

    scope = "platform"

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)
