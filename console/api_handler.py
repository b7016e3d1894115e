"""The ASGI handler of the AWS APIs' synchronous views (the control plane): Django's URLs
and views as usual, without the console's middleware and without a new thread per request.

Django's own ASGI handler gives every request a fresh thread for its sync code
(``ThreadSensitiveContext``), so each call opens a new database connection, and each of the
console's middleware (all sync) costs a hop between the event loop and that thread. The
API views need few of them: they are SigV4-signed, CSRF-exempt and use no session, cookie
or message; only the middleware that sets security headers (and redirects to HTTPS when
so configured) applies to them, and runs here as sync code. So this handler runs each
request's whole sync part (signals, URL resolution, those middleware, the view, closing the
response) in one hop to a fixed pool of threads, each keeping its database connection as
``CONN_MAX_AGE`` allows.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.db import connections
from django.http import HttpResponseBadRequest, HttpResponseBase
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# The part of settings.MIDDLEWARE that applies to API calls: headers for browsers that
# might open an answer, and HTTPS redirects. Sessions, CSRF, sign-in, messages, the console
# audit and static files concern the console's pages only (the audit of API calls is
# their shells', ``awsapi.observe``).
API_URLCONF = "console.api_urls"
API_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "console.security_headers.ContentSecurityPolicyMiddleware",
)


class ApiHandler(ASGIHandler):
    """Django's ASGI handler for sync API views: no middleware, a pool of ``threads``.

    When every thread is taken (calls waiting on a lock, a long upload being stored), a
    further call goes to ``overflow`` (Django's own handler, a thread of its own) instead
    of queueing behind them: one tenant's slow calls cannot hold up everyone's."""

    def __init__(self, threads: int, overflow: Any) -> None:
        super().__init__()
        self._threads = threads
        self._in_flight = 0
        self._overflow = overflow
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="api")
        # The whole sync part of a request in one hop; its thread's locals and asgiref's
        # way back to the event loop (async_to_sync in a view) as sync_to_async sets them.
        self._serve_in_pool = sync_to_async(
            self._serve, thread_sensitive=False, executor=self._executor
        )

    def load_middleware(self, is_async: bool = False) -> None:
        # As BaseHandler.load_middleware with API_MIDDLEWARE (none of which has view,
        # template-response or exception hooks), always in sync mode: the whole chain runs
        # in the pool's thread, never through a sync_to_async of its own.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(API_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._in_flight >= self._threads:
            await self._overflow(scope, receive, send)
            return
        self._in_flight += 1
        try:
            await self._handle(scope, receive, send)
        finally:
            self._in_flight -= 1

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self._serve_in_pool(scope, body_file)
            if response.streaming:
                await self.send_response(response, send)
                await sync_to_async(response.close, thread_sensitive=False)()
            else:
                await _send(response, send)
        finally:
            body_file.close()

    def _serve(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """The request's response, already closed unless it streams (closing it sends
        ``request_finished``, which keeps or closes the thread's database connection)."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            if request is not None:
                request.urlconf = API_URLCONF
                try:
                    request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
                except DisallowedHost:
                    request, error_response = None, HttpResponseBadRequest()
            response = error_response if request is None else self.get_response(request)
            assert response is not None
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            if not response.streaming:
                response.close()
            return response
        finally:
            _connections_reset()


def _connections_reset() -> None:
    """A pooled thread's connections serve other tenants' calls next: one a call left in a
    transaction (a bug, but one must not break the thread for good, nor carry that
    transaction into someone else's call) is thrown away and replaced."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            continue
        logger.error("an API call left a transaction open on %s: discarded", connection.alias)
        raw = connection.connection
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()
        connections[connection.alias] = connections.create_connection(connection.alias)


async def _send(response: HttpResponseBase, send: Any) -> None:
    """A complete (non-streaming) response as ASGI messages, as ``send_response`` would."""
    headers = [
        (
            name.encode("ascii") if isinstance(name, str) else bytes(name),
            value.encode("latin1") if isinstance(value, str) else bytes(value),
        )
        for name, value in response.items()
    ]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.OutputString().encode("ascii").strip()))
    body = response.content  # type: ignore[attr-defined]
    if not response.has_header("Content-Length"):
        headers.append((b"Content-Length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
