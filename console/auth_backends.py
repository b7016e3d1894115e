"""The console's sign-in lockout check (django-axes), for sign-ins that come with a request."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """axes' check that the (user name, client address) pair is not locked out.

    Every sign-in over HTTP (the console's login form) passes its request and is counted.
    ``authenticate()`` without a request (Django's test client ``login()``, a shell) has no
    address to count against; axes would refuse it outright, so it is left to the next
    backend unthrottled: nothing reachable from the network calls it that way.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None
