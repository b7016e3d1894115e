"""ASGI entry point: HTTP through Django, WebSockets through Channels, function URLs
through :mod:`invocations.urlserver` (before Django resolves anything).

Invoke requests (the hot path) skip Django's middleware: every middleware in the stack is
sync-only or mixin-based, and under ASGI each one costs a hop to the sync thread and back,
which the Invoke view (SigV4-signed, CSRF-exempt, no session) has no use for. The other
calls under an AWS API's date prefix (the control plane: sync views) go to
:class:`console.api_handler.ApiHandler`: their sync part in one hop to a pool of threads
that keep their database connections.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

from django.core.asgi import get_asgi_application

from console import startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# Before Django reads the settings (uvicorn or daphne may be the first to start).
startup.prepare()
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.core.signals import request_finished  # noqa: E402
from django.db import close_old_connections, connections  # noqa: E402

from audit.recorder import recorder as audit_recorder  # noqa: E402
from awsapi.apiview import RequestBodyLimit  # noqa: E402
from console.api_handler import ApiHandler  # noqa: E402
from console.routing import websocket_urlpatterns  # noqa: E402
from invocations import provisioning, urlserver  # noqa: E402
from triggers import pollers  # noqa: E402

logger = logging.getLogger(__name__)

INVOKE_PATH = re.compile(
    r"^/(?:2015-03-31/functions/[^/]+/invocations|2014-11-13/functions/[^/]+/invoke-async"
    r"|2021-11-15/functions/[^/]+/response-streaming-invocations)/?$"
)
# The REST APIs' paths (Lambda's and its dated siblings): console pages never start so.
API_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/", re.ASCII)


class WithoutMiddleware(ASGIHandler):
    """Django's ASGI handler with an empty middleware stack (URLs, views, signals as usual)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # As BaseHandler.load_middleware ends with no middleware (its steps are private,
        # hence unknown to the type stubs).
        get_response = (
            self._get_response_async  # type: ignore[attr-defined]
            if is_async
            else self._get_response  # type: ignore[attr-defined]
        )
        self._middleware_chain = convert_exception_to_response(get_response)


invoke_app = WithoutMiddleware()


def _close_request_thread_connections(**kwargs: Any) -> None:
    """Django's ASGI handler runs a request's sync code in a thread made for that request,
    which ends with it: its database connections are closed now, whatever CONN_MAX_AGE
    says (that is for threads that live on, as the API handler's), instead of when the
    garbage collector next finds the dead thread's (a cycle: until then its files stay open)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


for _handler_class in (ASGIHandler, WithoutMiddleware):
    request_finished.connect(
        _close_request_thread_connections,
        sender=_handler_class,
        dispatch_uid=f"close-request-thread-connections-{_handler_class.__name__}",
    )
api_app = ApiHandler(threads=settings.FUNCTORY_API_THREADS, overflow=django_asgi_app)


async def http_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    # Function URLs first: a host under the URL domain never reaches Django's URLs.
    url_route = urlserver.route(scope)
    if url_route is not None:
        await urlserver.serve(url_route, scope, receive, send)
        return
    path = scope["path"]
    if INVOKE_PATH.match(path):
        await invoke_app(scope, receive, send)
    elif API_PATH.match(path):
        await api_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


def _store_audit_events() -> None:
    try:
        audit_recorder.flush()
    except Exception:
        logger.exception("storing the audit events buffered at shutdown failed")
    finally:
        close_old_connections()


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol (``serve`` turns it on): what runs beside the requests on
    the server's own event loop, here the event source pollers, starts with the server and
    stops with it (giving up their leases, so another host takes over at once)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            pollers.start()
            provisioning.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await provisioning.stop()
            await pollers.stop()
            # uvicorn ends a SIGTERM'd server by raising the signal again, so atexit never
            # runs: the audit events still buffered are stored here, after the last request.
            await asyncio.to_thread(_store_audit_events)
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "lifespan": lifespan,
        # Bounds request bodies before Django reads them (see RequestBodyLimit).
        "http": RequestBodyLimit(http_app),
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
