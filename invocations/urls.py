"""Routes of the data-plane API."""

from __future__ import annotations

from django.urls import path, re_path

from invocations import api

urlpatterns = [
    re_path(r"^2015-03-31/functions/(?P<function_name>[^/]+)/invocations/?$", api.invoke),
    re_path(
        r"^2021-11-15/functions/(?P<function_name>[^/]+)/response-streaming-invocations/?$",
        api.invoke_with_response_stream,
    ),
    re_path(r"^2014-11-13/functions/(?P<function_name>[^/]+)/invoke-async/?$", api.invoke_async),
    path("_functory/async-invocations", api.AsyncInvocationsView.as_view()),
    re_path(r"^_functory/internal/invoke$", api.internal_invoke),
]
