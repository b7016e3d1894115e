"""The routes of the AWS APIs' dated paths alone (``console.api_handler`` resolves with
them): the same views as ``console.urls`` gives these paths, without trying the console's
hundred patterns first."""

from __future__ import annotations

from django.urls import include, path, re_path

from awsapi.apiview import method_router

handler404 = "platformapi.errors.not_found"

urlpatterns = [
    path("", include("invocations.urls")),
    path("", include("functions.urls")),
    path("", include("triggers.urls")),
    # As in console.urls: anything else under an API version prefix is an unknown operation.
    re_path(r"^\d{4}-\d{2}-\d{2}/", method_router()),
]
