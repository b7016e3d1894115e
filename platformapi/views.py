"""Base views of the platform API."""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from iam.models import User


class AsyncAPIView(APIView):
    """An :class:`APIView` whose handlers are coroutines (``async def get``...), for views
    that wait on the executor: under ASGI they wait on the event loop, not in the one
    thread Django gives every synchronous view.

    Authentication, permissions and throttles may query the database: they run in that
    thread first, as for a synchronous view; only the handler runs on the event loop.
    Django sees the view as asynchronous because every handler is (``View.view_is_async``).
    """

    async def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> Response:
        self.args = args
        self.kwargs = kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            await sync_to_async(self.initial)(drf_request, *args, **kwargs)
            method = (drf_request.method or "").lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                handler = self.http_method_not_allowed
            if iscoroutinefunction(handler):
                response = await handler(drf_request, *args, **kwargs)
            else:
                response = await sync_to_async(handler)(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response


class SignedInRequest(Request):
    """A request the default permission (``IsAuthenticated``) let through: its user is
    IAM's :class:`User`, never anonymous. For typing only; DRF still passes a ``Request``."""

    user: User
