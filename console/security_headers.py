"""Content-Security-Policy for every response (the console's pages above all).

The console's scripts are bundled files served by this server (no inline script, no CDN),
so scripts may come from this origin only; ``json_script`` data blocks are not executed and
need no exception. Styles allow ``'unsafe-inline'`` because the code editor (CodeMirror)
injects its theme as ``<style>`` elements; a style cannot run code. The live-tail socket is
this host's, over ws or wss. No page may be framed (``frame-ancestors 'none'``, as
``X-Frame-Options: DENY`` says to older browsers). ``X-Content-Type-Options`` and
``Referrer-Policy`` come from Django's SecurityMiddleware (see settings).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy(host: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            try:
                host = request.get_host()
            except DisallowedHost:  # Django answers 400 itself
                host = "localhost"
            response[HEADER] = policy(host)
        return response
